"""Participant domains of mail files as Python's email package reads them.

Usage: python3 pydomains.py FILE... ; prints one JSON object, by file:
{"domains": [...], "nested_domains": [...], "parsed": bool}, the way
shared/fixtures/mime-real/expected.json was made: the distinct domains of
From, Sender, Reply-To, To, Cc, Bcc and Delivered-To of the message, and
those of its attached messages (message/rfc822, at any depth) not already
among them; IDN domains in their ASCII form, lowercased.
"""
import base64
import email
import email.policy
import email.utils
import json
import quopri
import sys

HEADERS = ["From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Delivered-To"]


def ascii_domain(d):
    d = d.strip().strip(".").lower()
    if not d:
        return ""
    try:
        d.encode("ascii")
        return d
    except UnicodeEncodeError:
        try:
            return d.encode("idna").decode("ascii")
        except UnicodeError:
            return ""


def domains_of(msg):
    out = set()
    for h in HEADERS:
        values = [str(v) for v in msg.get_all(h, [])]
        for _, addr in email.utils.getaddresses(values):
            if "@" in addr:
                d = ascii_domain(addr.rsplit("@", 1)[1])
                if d:
                    out.add(d)
    return out


def nested_messages(msg):
    for part in msg.walk():
        if part.get_content_type() != "message/rfc822":
            continue
        payload = part.get_payload()
        if not isinstance(payload, list):
            continue
        for inner in payload:
            cte = part.get("Content-Transfer-Encoding", "").strip().lower()
            if cte in ("base64", "quoted-printable"):
                # compat32 does not decode an encoded message/rfc822; its
                # "message" is the encoded text: decode it and read that.
                body = inner.as_string().encode("ascii", "replace")
                raw = base64.b64decode(body) if cte == "base64" else quopri.decodestring(body)
                inner = email.message_from_bytes(raw, policy=email.policy.compat32)
            yield inner
            yield from nested_messages(inner)


def main():
    result = {}
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.compat32)
        top = domains_of(msg)
        nested = set()
        for inner in nested_messages(msg):
            nested |= domains_of(inner)
        result[path] = {
            "domains": sorted(top),
            "nested_domains": sorted(nested - top),
            "parsed": not msg.defects,
        }
    json.dump(result, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
