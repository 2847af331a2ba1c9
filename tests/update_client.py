"""DNS UPDATE client for tests/update.rs, on dnspython's dns.update.

Reads one JSON object per line on stdin, each a message to send, and prints one JSON object
per line: the response code and the Extended DNS Errors of the answer.

A message: {"zone", "server", "port", "tcp": bool, "edns": bool, "key": [name, secret] or
null, "prereqs": [[kind, name, ...]], "updates": [[op, name, ttl, type, data]], and
optionally "source", the loopback address to send from}.
Prerequisite kinds: yxdomain, nxdomain, yxrrset (type, optional data), nxrrset (type).
Update ops: add, delete (type and data optional), replace.
"""

import json
import sys

import dns.edns
import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update


def build(m):
    kw = {}
    if m.get("key"):
        name, secret = m["key"]
        kw["keyring"] = dns.tsigkeyring.from_text({name: secret})
        kw["keyname"] = name
        kw["keyalgorithm"] = "hmac-sha256"
    u = dns.update.UpdateMessage(m["zone"], **kw)
    if m.get("edns"):
        u.use_edns(0)
    for p in m.get("prereqs", []):
        kind, name, rest = p[0], p[1], p[2:]
        if kind == "yxdomain":
            u.present(name)
        elif kind == "nxdomain":
            u.absent(name)
        elif kind == "yxrrset":
            u.present(name, *rest)
        elif kind == "nxrrset":
            u.absent(name, *rest)
    for op, name, ttl, rtype, data in m.get("updates", []):
        if op == "add":
            u.add(name, ttl, rtype, data)
        elif op == "replace":
            u.replace(name, ttl, rtype, data)
        elif op == "delete":
            args = [a for a in (rtype, data) if a]
            u.delete(name, *args)
    return u


def main():
    for line in sys.stdin:
        m = json.loads(line)
        u = build(m)
        send = dns.query.tcp if m.get("tcp") else dns.query.udp
        try:
            r = send(u, m["server"], port=m["port"], timeout=30, source=m.get("source"))
            ede = [
                {"code": o.code, "text": o.text}
                for o in r.options
                if isinstance(o, dns.edns.EDEOption)
            ]
            out = {"rcode": dns.rcode.to_text(r.rcode()), "ede": ede}
        except Exception as e:  # noqa: BLE001 - the test prints whatever went wrong
            out = {"rcode": "EXCEPTION", "error": repr(e), "ede": []}
        print(json.dumps(out), flush=True)


main()
