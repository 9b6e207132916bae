"""A workload's call to entra-token-broker from Python: azure-identity for the workload's own
token, requests for the broker. BrokerTokenProvider keeps each answer until refresh_in, lets one
request per scope run at a time, and honours Retry-After on 429/503 (bounded, jittered retries).

    BROKER_URL    https://<function-app>.azurewebsites.net
    BROKER_SCOPE  the broker's API, e.g. api://entra-token-broker/.default
    TOKEN_SCOPE   the third-party API's scope, e.g. api://<third-party-app-id>/.default
    API_URL       (optional) a third-party API URL to call with the token

pip install azure-identity requests
"""

import os
import random
import sys
import threading
import time

import requests
from azure.identity import DefaultAzureCredential

MAX_RETRIES = 3
MAX_RETRY_DELAY_SECONDS = 30


class BrokerRequestError(Exception):
    """The broker's refusal: status and its RFC 6749 error fields (never a token)."""

    def __init__(self, status, error, description, retry_after_seconds):
        super().__init__(f"broker answered {status} {error}: {description}")
        self.status = status
        self.error = error
        self.error_description = description
        self.retry_after_seconds = retry_after_seconds


class BrokerTokenProvider:
    def __init__(self, broker_url, broker_scope, credential, session=None):
        self._token_url = broker_url.rstrip("/") + "/api/token"
        self._broker_scope = broker_scope
        self._credential = credential
        self._session = session or requests.Session()
        self._tokens = {}  # scope -> (token, refresh_at, expires_on), times in time.time()
        self._locks = {}
        self._locks_lock = threading.Lock()

    def get_token(self, scope):
        held = self._tokens.get(scope)
        if held and time.time() < held[1]:
            return held[0]
        with self._locks_lock:
            lock = self._locks.setdefault(scope, threading.Lock())
        with lock:  # one request per scope at a time
            held = self._tokens.get(scope)
            if held and time.time() < held[1]:
                return held[0]
            try:
                token, refresh_in, expires_in = self._request_with_retries(scope)
            except BrokerRequestError:
                if held and time.time() < held[2] - 60:
                    return held[0]  # the broker is failing, but the token we hold is still good
                raise
            now = time.time()
            self._tokens[scope] = (token, now + min(refresh_in, expires_in), now + expires_in)
            return token

    def _request_with_retries(self, scope):
        for retry in range(1, MAX_RETRIES + 2):
            try:
                return self._request_once(scope)
            except BrokerRequestError as e:
                named = e.retry_after_seconds if e.retry_after_seconds is not None else 2 ** (retry - 1)
                # 400/401/403 are not retried: the same request would get the same answer.
                if e.status not in (429, 503) or retry > MAX_RETRIES or named > MAX_RETRY_DELAY_SECONDS:
                    raise
                # Never earlier than the broker said; up to 20 % later, so a fleet does not return at once.
                delay = named * (1 + 0.2 * random.random())
                print(f"broker answered {e.status}, retrying after {delay:.1f} s", file=sys.stderr)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _request_once(self, scope):
        own = self._credential.get_token(self._broker_scope)
        response = self._session.post(
            self._token_url,
            headers={"Authorization": f"Bearer {own.token}"},
            data={"scope": scope},
            timeout=10,
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            retry_after = response.headers.get("Retry-After", "")
            raise BrokerRequestError(
                response.status_code,
                body.get("error"),
                body.get("error_description"),
                int(retry_after) if retry_after.isdigit() else None,
            )
        expires_in = int(body["expires_in"])
        return body["access_token"], int(body.get("refresh_in", expires_in // 2)), expires_in


if __name__ == "__main__":
    # The workload's own identity: managed identity or workload identity in Azure; elsewhere a
    # client secret from AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET.
    broker = BrokerTokenProvider(os.environ["BROKER_URL"], os.environ["BROKER_SCOPE"], DefaultAzureCredential())
    scope = os.environ["TOKEN_SCOPE"]
    token = broker.get_token(scope)
    print(f"broker: got a token for {scope}; the second call was served from the cache: {broker.get_token(scope) is token}")
    if os.environ.get("API_URL"):
        api = requests.get(os.environ["API_URL"], headers={"Authorization": f"Bearer {token}"}, timeout=10)
        print(f"third-party API: {api.status_code}")
        raise SystemExit(0 if api.ok else 1)
