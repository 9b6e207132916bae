"""A stand-in for azure-identity, for run.sh only: PyPI cannot be reached on the machine that runs
the examples, so this gives broker_token.py the one thing it uses — DefaultAzureCredential's
get_token — as client credentials with a secret from AZURE_TENANT_ID / AZURE_CLIENT_ID /
AZURE_CLIENT_SECRET against AZURE_AUTHORITY_HOST (what EnvironmentCredential does). Not for use."""

import os
import time
from collections import namedtuple

import requests

AccessToken = namedtuple("AccessToken", ["token", "expires_on"])


class DefaultAzureCredential:
    def get_token(self, *scopes):
        authority = os.environ["AZURE_AUTHORITY_HOST"].rstrip("/")
        response = requests.post(
            f"{authority}/{os.environ['AZURE_TENANT_ID']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": os.environ["AZURE_CLIENT_ID"],
                "client_secret": os.environ["AZURE_CLIENT_SECRET"],
                "scope": " ".join(scopes),
            },
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        return AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))
