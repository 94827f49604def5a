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


def _b64url_json(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def fake_secrets(seed: int = 9) -> list[FakeSecret]:
    """One fake secret of every kind (two for the kinds with two shapes), in context."""
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
    ]
