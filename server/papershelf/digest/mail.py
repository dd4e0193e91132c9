"""The digest leaves the library page: as an Atom feed for any feed reader, and as an email through the user's
own SMTP server (HTML with a plain-text part, links to arXiv and to the local library page).

SMTP settings come from `<home>/smtp.json` (which must be readable by the user only: mode 0600) and the
environment, which wins: PAPERSHELF_SMTP_HOST, _PORT, _SECURITY (starttls, ssl or none), _USER, _PASSWORD,
_FROM, _TO.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import stat
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate
from html import escape
from pathlib import Path
from xml.etree import ElementTree as ET

import msgspec

from .. import ids
from ..models import DigestItem

CONFIG_FILE = "smtp.json"
TOP = 25  # items in an email or the Atom feed


class MailError(ValueError):
    """Email cannot be sent: not set up, or the server refused; the message says which."""


class SmtpConfig(msgspec.Struct, forbid_unknown_fields=True):
    host: str
    to: str
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    user: str = ""
    password: str = ""
    sender: str = ""


def config(home: Path) -> SmtpConfig:
    """The SMTP settings: smtp.json (mode 0600) under the environment's PAPERSHELF_SMTP_* variables."""
    values: dict = {}
    path = Path(home) / CONFIG_FILE
    if path.exists():
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise MailError(f"{path} holds a password and is readable by others: chmod 600 {path}")
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise MailError(f"{path} is not valid JSON: {e}") from e
    for key in ("host", "port", "security", "user", "password", "to"):
        if env := os.environ.get(f"PAPERSHELF_SMTP_{key.upper()}"):
            values[key] = int(env) if key == "port" else env
    if env := os.environ.get("PAPERSHELF_SMTP_FROM"):
        values["sender"] = env
    if "from" in values:
        values["sender"] = values.pop("from")
    if not values.get("host") or not values.get("to"):
        raise MailError(f"email is not set up: write {path} (mode 0600) with host, port, security "
                        "(starttls, ssl or none), user, password, from and to, or set PAPERSHELF_SMTP_HOST and _TO")
    try:
        cfg = msgspec.convert(values, SmtpConfig)
    except msgspec.ValidationError as e:
        raise MailError(f"SMTP settings: {e}") from e
    if cfg.security not in ("starttls", "ssl", "none"):
        raise MailError(f"SMTP security must be starttls, ssl or none, not {cfg.security!r}")
    return cfg


def configured(home: Path) -> bool:
    """The user has set email up (a settings file or the environment)."""
    return (Path(home) / CONFIG_FILE).exists() or bool(os.environ.get("PAPERSHELF_SMTP_HOST"))


def link(item: DigestItem) -> str:
    """Where a paper lives (ids.paper_link)."""
    return ids.paper_link(item.identifiers, item.url)


def _why(item: DigestItem) -> str:
    close = "; ".join(p.title for p in item.why.papers[:2])
    terms = ", ".join(item.why.terms)
    return " — ".join(x for x in (f"close to {close}" if close else "", terms) if x)


def compose(digest, page_url: str) -> EmailMessage:
    """Today's digest (of the DigestService `digest`) as an email: a plain-text part and an HTML part."""
    page = digest.day(limit=TOP)
    items = [i for i in page.items if not i.in_library]
    subject = f"papershelf: {len(items)} new papers for you ({page.day})" if page.day else "papershelf: no digest yet"
    text = [subject, "", page.note, ""] if page.note else [subject, ""]
    html = [f"<h2>{escape(subject)}</h2>"]
    for n, it in enumerate(items, 1):
        authors = ", ".join(it.authors[:3]) + (" et al." if len(it.authors) > 3 else "")
        text += [f"{n}. {it.title}", f"   {authors}", f"   {link(it)}", f"   why: {_why(it)}", ""]
        html.append(f'<p><b><a href="{escape(link(it))}">{escape(it.title)}</a></b><br>{escape(authors)}<br>'
                    f'<small>{escape(_why(it))}</small></p>')
    text.append(f"Your digest, with save and 👍/👎: {page_url}/#today")
    html.append(f'<p><a href="{escape(page_url)}/#today">Open the digest in papershelf</a> (save, 👍, 👎)</p>')
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg.set_content("\n".join(text))
    msg.add_alternative("<html><body>" + "".join(html) + "</body></html>", subtype="html")
    return msg


def send_digest(home: Path, digest, page_url: str = "http://127.0.0.1:8765") -> str:
    """Email today's digest through the SMTP server set up in `home`; returns the address it went to."""
    cfg = config(home)
    msg = compose(digest, page_url)
    msg["From"] = cfg.sender or cfg.user or f"papershelf@{cfg.host}"
    msg["To"] = cfg.to
    try:
        if cfg.security == "ssl":
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=30, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=30)
        with smtp:
            if cfg.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if cfg.user:
                smtp.login(cfg.user, cfg.password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as e:
        raise MailError(f"could not send through {cfg.host}:{cfg.port}: {e}") from e
    return cfg.to


def atom(digest) -> bytes:
    """The latest digest as an Atom feed (best first)."""
    page = digest.day(limit=TOP)
    ns = "http://www.w3.org/2005/Atom"
    ET.register_namespace("", ns)
    feed = ET.Element(f"{{{ns}}}feed")
    updated = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def sub(parent, tag, text=None, **attrs):
        el = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    sub(feed, "title", f"papershelf digest {page.day or ''}".strip())
    sub(feed, "id", "urn:papershelf:digest")
    sub(feed, "updated", updated)
    sub(sub(feed, "author"), "name", "papershelf")
    for it in page.items:
        if it.in_library:
            continue
        e = sub(feed, "entry")
        sub(e, "title", it.title)
        sub(e, "id", f"urn:papershelf:candidate:{it.id}")
        sub(e, "updated", updated)
        if link(it):
            sub(e, "link", href=link(it))
        for a in it.authors:
            sub(sub(e, "author"), "name", a)
        sub(e, "summary", f"{_why(it)}\n\n{it.abstract}".strip())
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
