"""Fake secrets of every kind the redactor knows, built at run time from a seeded generator.

None of them is or was ever a live credential: each is random characters in the shape
of its kind, so the repository holds no key-shaped literal either.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass

_ALNUM = string.ascii_letters + string.digits
_UPPER_DIGITS = string.ascii_uppercase + string.digits
_B64URL = _ALNUM + "-_"
_HEX = "0123456789abcdef"
_LOWER_ALNUM = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class FakeSecret:
    """A secret, the rule that must catch it, and a line of text that holds it."""

    kind: str
    secret: str
    text: str
    kept: tuple[str, ...] = ()  # what must survive around the secret (key names, hosts)


def _mixed(rng: random.Random, alphabet: str, size: int) -> str:
    """Random characters with at least one digit, upper and lower case letter."""
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(size))
        if (any(c.isdigit() for c in value) and any(c.isupper() for c in value)
                and any(c.islower() for c in value)):
            return value


def _pick(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def _service_account(rng: random.Random, body: str) -> str:
    """A Google Cloud service-account key file, as JSON: its key's newlines are ``\\n``."""
    project = f"fake-project-{rng.randrange(10**5)}"
    return json.dumps({
        "type": "service_account", "project_id": project,
        "private_key_id": _pick(rng, _HEX, 40),
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n",
        "client_email": f"deployer@{project}.iam.gserviceaccount.com",
        "client_id": str(rng.randrange(10**20, 10**21)), "token_uri": "https://oauth2.invalid/token",
    }, indent=2)


def _b64url_json(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def fake_secrets(seed: int = 9) -> list[FakeSecret]:
    """One fake secret of every kind (more for the kinds with several shapes), in context."""
    rng = random.Random(seed)
    aws_id = "AKIA" + "".join(rng.choice(_UPPER_DIGITS) for _ in range(16))
    sts_id = "ASIA" + "".join(rng.choice(_UPPER_DIGITS) for _ in range(16))
    aws_secret = _mixed(rng, _ALNUM + "/+", 40)
    ghp = "ghp_" + _mixed(rng, _ALNUM, 36)
    pat = "github_pat_" + _mixed(rng, _ALNUM, 22) + "_" + _mixed(rng, _ALNUM, 59)
    glpat = "glpat-" + _mixed(rng, _ALNUM, 20)
    xoxb = "xoxb-" + "".join(rng.choice(string.digits) for _ in range(12)) + "-" + _mixed(
        rng, _ALNUM, 24)
    team, bot = ("".join(rng.choice(_UPPER_DIGITS) for _ in range(9)) for _ in range(2))
    hook = f"https://hooks.slack.com/services/T{team}/B{bot}/" + _mixed(rng, _ALNUM, 24)
    openai = "sk-proj-" + _mixed(rng, _B64URL, 120)
    openai_old = "sk-" + _mixed(rng, _ALNUM, 48)
    anthropic = "sk-ant-api03-" + _mixed(rng, _B64URL, 93) + "AA"
    google = "AIza" + _mixed(rng, _B64URL, 35)
    jwt = ".".join([_b64url_json({"alg": "HS256", "typ": "JWT"}),
                    _b64url_json({"sub": str(rng.randrange(10**9)), "name": "Fake Person"}),
                    _mixed(rng, _B64URL, 43)])
    body = "\n".join(_mixed(rng, _ALNUM + "+/", 64) for _ in range(6))
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    openssh = (f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body[::-1]}\n"
               "-----END OPENSSH PRIVATE KEY-----")
    url_pw = _mixed(rng, _ALNUM, 14)
    env_pw = _mixed(rng, _ALNUM + "!%^&*", 18)
    env_token = _mixed(rng, _ALNUM, 32)
    # Issue 14: kinds that reached the collector in clear; prefixes as gitleaks knows them.
    stripe = "sk_live_" + _mixed(rng, _ALNUM, 24)
    twilio = "SK" + _pick(rng, _HEX, 32)
    sendgrid = "SG." + _mixed(rng, _B64URL, 22) + "." + _mixed(rng, _B64URL, 43)
    npm = "npm_" + _mixed(rng, _ALNUM, 36)
    pypi = "pypi-AgEIcHlwaS5vcmc" + _mixed(rng, _B64URL, 120)
    huggingface = "hf_" + _pick(rng, string.ascii_letters, 34)
    account_key = _mixed(rng, _ALNUM + "+/", 86) + "=="
    sas_sig = _mixed(rng, _ALNUM, 40) + "%2B" + _mixed(rng, _ALNUM, 8) + "%3D"
    gcp_body = "\\n".join(_mixed(rng, _ALNUM + "+/", 64) for _ in range(6))
    datadog = _pick(rng, _LOWER_ALNUM, 40)
    heroku = "-".join(_pick(rng, _HEX, n) for n in (8, 4, 4, 4, 12))
    digitalocean = "dop_v1_" + _pick(rng, _HEX, 64)
    mailgun = "key-" + _pick(rng, _HEX, 32)
    shopify = "shpat_" + _pick(rng, _HEX, 32)
    databricks = "dapi" + _pick(rng, _HEX, 32)
    postman = "PMAK-" + _pick(rng, _HEX, 24) + "-" + _pick(rng, _HEX, 34)
    inline_pw = _mixed(rng, _ALNUM + "!#%", 16)
    json_pw = _mixed(rng, _ALNUM, 20)
    yaml_key = _mixed(rng, _ALNUM, 32)
    header_key = _mixed(rng, _HEX + "ABCDEF", 40)
    return [
        FakeSecret("aws_access_key", aws_id, f"the key id is {aws_id}, region eu-west-1"),
        FakeSecret("aws_access_key", sts_id, f"AssumeRole gave {sts_id} for an hour"),
        FakeSecret("aws_secret_key", aws_secret,
                   f"[default]\naws_secret_access_key = {aws_secret}\n",
                   ("aws_secret_access_key = ",)),
        FakeSecret("github_token", ghp, f"git push https://github.com with {ghp} please"),
        FakeSecret("github_token", pat, f"export GH_PAT={pat}"),
        FakeSecret("gitlab_token", glpat, f"curl --header 'PRIVATE-TOKEN: {glpat}' gitlab.com"),
        FakeSecret("slack_token", xoxb, f"SLACK_BOT={xoxb} in the bot config"),
        FakeSecret("slack_webhook", hook, f"post the alert to {hook} when it fails"),
        FakeSecret("openai_key", openai, f"client = OpenAI(api_key=\"{openai}\")"),
        FakeSecret("openai_key", openai_old, f"my old key {openai_old} still works?"),
        FakeSecret("anthropic_key", anthropic, f"use {anthropic} for the claude calls"),
        FakeSecret("google_api_key", google, f"maps?key={google}&q=berlin"),
        FakeSecret("jwt", jwt, f"Authorization: Bearer {jwt}"),
        FakeSecret("private_key", pem, f"here is the deploy key:\n{pem}\nthanks",
                   ("here is the deploy key:", "thanks")),
        FakeSecret("private_key", openssh, openssh),
        FakeSecret("url_password", url_pw,
                   f"DATABASE = 'postgresql://app_user:{url_pw}@db.internal:5432/app'",
                   ("postgresql://app_user:", "@db.internal:5432/app")),
        FakeSecret("env_secret", env_pw, f"DEBUG=1\nDB_PASSWORD={env_pw}\nPORT=8080\n",
                   ("DEBUG=1\nDB_PASSWORD=", "\nPORT=8080")),
        FakeSecret("env_secret", env_token, f"export SERVICE_API_TOKEN=\"{env_token}\"",
                   ("export SERVICE_API_TOKEN=\"",)),
        FakeSecret("stripe_access_token", stripe,
                   f"please use STRIPE_SECRET_KEY={stripe} for the deploy",
                   ("please use STRIPE_SECRET_KEY=", " for the deploy")),
        FakeSecret("twilio_api_key", twilio, f"client = Client({twilio!r}, auth)"),
        FakeSecret("sendgrid_api_token", sendgrid, f"SendGridAPIClient(\"{sendgrid}\")"),
        FakeSecret("npm_access_token", npm, f"//npm.internal.example/:_authToken={npm}",
                   ("//npm.internal.example/:_authToken=",)),
        FakeSecret("pypi_upload_token", pypi, f"[pypi]\nusername = __token__\npassword = {pypi}\n",
                   ("username = __token__",)),
        FakeSecret("huggingface_access_token", huggingface,
                   f"huggingface-cli login --token {huggingface}"),
        FakeSecret("azure_key", account_key,
                   "DefaultEndpointsProtocol=https;AccountName=fakeacct;"
                   f"AccountKey={account_key};EndpointSuffix=core.windows.net",
                   ("AccountName=fakeacct;AccountKey=", ";EndpointSuffix=core.windows.net")),
        FakeSecret("azure_key", sas_sig,
                   "curl 'https://fakeacct.blob.core.windows.net/logs/a.txt?sv=2022-11-02"
                   f"&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&sig={sas_sig}'",
                   ("&sp=r&se=2030-01-01T00:00:00Z&sig=",)),
        FakeSecret("private_key", gcp_body, _service_account(rng, gcp_body),
                   ('"type": "service_account"',)),
        FakeSecret("datadog_access_token", datadog, f"DATADOG_APP_KEY={datadog} ./run.sh",
                   ("DATADOG_APP_KEY=",)),
        FakeSecret("heroku_api_key", heroku, f"heroku_api_key: \"{heroku}\"",
                   ("heroku_api_key: \"",)),
        FakeSecret("digitalocean_pat", digitalocean, f"doctl auth init -t {digitalocean}"),
        FakeSecret("mailgun_private_api_token", mailgun, f"MAILGUN_KEY = '{mailgun}'"),
        FakeSecret("shopify_access_token", shopify,
                   f"headers = {{'X-Shopify-Access-Token': '{shopify}'}}"),
        FakeSecret("databricks_api_token", databricks, f"databricks configure --token {databricks}"),
        FakeSecret("postman_api_token", postman, f"postman login --with-api-key {postman}"),
        FakeSecret("keyword_secret", inline_pw,
                   f"run it with DB_PASSWORD={inline_pw} make migrate, then check",
                   ("run it with DB_PASSWORD=", " make migrate, then check")),
        FakeSecret("keyword_secret", json_pw,
                   f'{{"username": "deploy", "password": "{json_pw}", "port": 5432}}',
                   ('{"username": "deploy", "password": "', '", "port": 5432}')),
        FakeSecret("keyword_secret", yaml_key, f"smtp: {{host: mail.internal, apiKey: {yaml_key}}}",
                   ("smtp: {host: mail.internal, apiKey: ",)),
        FakeSecret("keyword_secret", header_key,
                   f"GET /v1/items HTTP/1.1\nHost: localhost:8080\nX-Api-Key: {header_key}\n",
                   ("Host: localhost:8080\nX-Api-Key: ",)),
    ]
