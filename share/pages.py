"""The HTML the share server sends: guest photo page, friendly errors, operator gallery.

Why hand-written HTML: the booth's hotspot has no internet, so every page is one self-contained
document (inline CSS, a few lines of inline script, no fonts or CDNs). Everything that comes from
configuration or the ledger goes through `html.escape`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape


_BASE_CSS = """
*{box-sizing:border-box}
html,body{margin:0;padding:0}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#0b0b10;
color:#f4f1ea;min-height:100vh;-webkit-text-size-adjust:100%}
main{max-width:560px;margin:0 auto;padding:18px 16px 28px}
h1{font-size:1.5rem;line-height:1.2;margin:4px 0 14px;text-align:center;letter-spacing:.02em}
p{line-height:1.45}
.muted{color:#a9a6b3;font-size:.9rem;text-align:center}
.btn{display:flex;align-items:center;justify-content:center;gap:10px;width:100%;min-height:58px;
margin:12px 0 0;border:0;border-radius:16px;font:inherit;font-size:1.15rem;font-weight:700;
text-decoration:none;cursor:pointer}
.primary{background:linear-gradient(135deg,#ffd86b,#f5a623);color:#1b1200;
box-shadow:0 6px 20px rgba(245,166,35,.35)}
.secondary{background:#24232d;color:#f4f1ea;border:1px solid #3a3846}
.hidden{display:none}
.howto{text-align:center;font-size:1.05rem;margin:0 0 12px}
"""

_PHOTO_CSS = """
.photo{display:block;width:100%;height:auto;border-radius:18px;background:#1a1922;
box-shadow:0 10px 40px rgba(0,0,0,.55)}
.frame{position:relative}
footer{margin-top:18px}
"""

_ADMIN_CSS = """
main{max-width:1100px}
.jobs{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.job{display:flex;gap:12px;background:#17161f;border:1px solid #2c2b36;border-radius:14px;
padding:10px;min-width:0}
.job .pic{flex:0 0 96px}
.job .meta{min-width:0;flex:1;font-size:.92rem;line-height:1.45}
img.thumb{width:96px;height:auto;border-radius:8px;display:block}
.nopic{width:96px;height:96px;border-radius:8px;background:#24232d}
.st{display:inline-block;padding:1px 10px;border-radius:99px;font-size:.82rem;font-weight:600}
.completed{background:#1f4d2e;color:#b7f5c8}.failed{background:#5a1f25;color:#ffc2c8}
.pending{background:#3b3a48;color:#e0def0}.processing{background:#4a3d12;color:#ffe7a3}
a{color:#ffd86b}.url{word-break:break-all;font-size:.8rem}
.meta .muted{text-align:left}
details summary{cursor:pointer;color:#ffd86b}
.qr{width:220px;max-width:100%;height:auto;background:#fff;padding:6px;border-radius:8px;
margin-top:6px}
.logout{max-width:240px;margin:24px auto 0}
"""

_LOGIN_CSS = """
main{max-width:400px}
label{display:block;margin:18px 0 6px}
input{width:100%;min-height:52px;padding:0 14px;border-radius:12px;border:1px solid #3a3846;
background:#17161f;color:#f4f1ea;font:inherit;font-size:1.1rem}
.note{color:#ffc2c8;text-align:center}
"""


def _doc(title: str, body: str, css: str = "", script: str = "", nonce: str = "",
         extra_head: str = "") -> str:
    script_tag = f'<script nonce="{escape(nonce)}">{script}</script>' if script else ""
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1,viewport-fit=cover\">"
            "<meta name=\"robots\" content=\"noindex,nofollow\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            "<meta name=\"color-scheme\" content=\"dark\">"
            f"{extra_head}<title>{escape(title)}</title>"
            f"<style>{_BASE_CSS}{css}</style></head>"
            f"<body><main>{body}</main>{script_tag}</body></html>\n")


# Shares the picture itself where the browser can (phones: "Save Image" puts it in Photos).
# The file is fetched on load so that the tap calls navigator.share while it still counts as a
# user gesture (Safari drops the gesture across a slow fetch). On iOS a download lands in Files,
# not Photos, so there the main instruction is the one that reaches Photos: Share → Save Image
# where Web Share works (https pages), else press and hold → Save to Photos.
_SHARE_JS = """
(function(){
  var btn=document.getElementById('share');
  var img=document.getElementById('photo');
  var dl=document.getElementById('download');
  var howto=document.getElementById('howto');
  var ua=navigator.userAgent||'';
  var ios=/iPhone|iPad|iPod/.test(ua)||(navigator.platform==='MacIntel'&&navigator.maxTouchPoints>1);
  function say(id){howto.textContent=howto.getAttribute('data-'+id);}
  if(ios&&howto&&dl){
    say('ios-hold');
    dl.classList.remove('primary');dl.classList.add('secondary');
    dl.lastChild.textContent=' '+dl.getAttribute('data-ios');
    var tip=document.getElementById('tip');if(tip)tip.classList.add('hidden');
  }
  if(!btn||!img||!navigator.share||!navigator.canShare||!window.fetch||!window.File)return;
  var file=null;
  fetch(img.getAttribute('src'),{credentials:'same-origin'}).then(function(r){
    if(!r.ok)throw new Error('fetch');return r.blob();
  }).then(function(b){
    var f=new File([b],btn.getAttribute('data-name'),{type:b.type||'image/jpeg'});
    if(navigator.canShare({files:[f]})){
      file=f;btn.classList.remove('hidden');
      if(ios){say('ios-share');btn.classList.remove('secondary');btn.classList.add('primary');
              dl.parentNode.insertBefore(btn,dl);}
    }
  }).catch(function(){});
  btn.addEventListener('click',function(){
    if(!file)return;
    navigator.share({files:[file],title:document.title}).catch(function(){});
  });
})();
"""

# What the link's footer says; the page must not promise more than the link keeps.
LAN_NOTE = ("This link works only on the booth's Wi-Fi, for {days} at most: "
            "save the photo now.")
CLOUD_NOTE = "This link works on any network until {until}."


def _days(n: float) -> str:
    days = max(1, round(n))
    return f"{days} day{'s' if days != 1 else ''}"


def until_text(ts: float) -> str:
    """'Tuesday 1 December' (+ the time when it is less than two days away), booth local time."""
    t = time.localtime(ts)
    text = f"{time.strftime('%A', t)} {t.tm_mday} {time.strftime('%B', t)}"
    if ts - time.time() < 2 * 86400:
        text += time.strftime(", %H:%M", t)
    return text


def guest_page(title: str, photo_src: str, download_href: str, filename: str,
               link_note: str, nonce: str, extra_head: str = "") -> str:
    """The guest's page, LAN or cloud copy: the picture, Download, Share (where the browser
    can share files), the event title and how long the link works."""
    name = escape(filename)
    body = (
        f"<h1>{escape(title)}</h1>"
        '<p id="howto" class="howto" '
        'data-ios-hold="Press and hold the photo, then tap &#8220;Save to Photos&#8221;." '
        'data-ios-share="Tap Share, then &#8220;Save Image&#8221; to put the photo in Photos.">'
        "Tap Download to save your photo.</p>"
        f'<div class="frame"><img id="photo" class="photo" src="{escape(photo_src)}" '
        f'alt="Your photo from {escape(title)}"></div>'
        f'<a id="download" class="btn primary" href="{escape(download_href)}" '
        f'download="{name}" data-ios="Download to Files">&#11015;&#xFE0E;'
        "<span> Download photo</span></a>"
        f'<button id="share" type="button" class="btn secondary hidden" '
        f'data-name="{name}">Share or save to Photos</button>'
        "<footer>"
        '<p id="tip" class="muted">Tip: you can also press and hold the picture to save it.</p>'
        f'<p id="lifetime" class="muted">{escape(link_note)}</p>'
        "</footer>")
    return _doc(title, body, _PHOTO_CSS, _SHARE_JS, nonce, extra_head)


def photo_page(title: str, token: str, filename: str, retention_days: float,
               nonce: str) -> str:
    """The LAN copy, served by the share server at /p/<token>."""
    photo = f"/p/{token}/photo.jpg"
    return guest_page(title, photo, photo + "?dl=1", filename,
                      LAN_NOTE.format(days=_days(retention_days)), nonce)


def cloud_page(title: str, photo_url: str, filename: str, expires_at: float,
               nonce: str) -> str:
    """The cloud copy, uploaded next to the photo: it has no server behind it, so its
    Content-Security-Policy travels in a meta element (frame-ancestors cannot)."""
    csp = ("default-src 'none'; img-src 'self' blob: data:; style-src 'unsafe-inline'; "
           f"script-src 'nonce-{nonce}'; connect-src 'self'; base-uri 'none'; "
           "form-action 'none'")
    # an empty icon: a bucket has no /favicon.ico, and the browser would log its 404
    head = (f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">'
            '<link rel="icon" href="data:,">')
    return guest_page(title, photo_url, photo_url, filename,
                      CLOUD_NOTE.format(until=until_text(expires_at)), nonce, head)


def not_found_page(title: str) -> str:
    body = (f"<h1>{escape(title)}</h1>"
            "<p style=\"text-align:center;font-size:1.15rem\">We can't find that photo.</p>"
            '<p class="muted">It may still be on its way, or the link has expired. '
            "Scan the QR code on the booth screen again, or ask the booth's host for help.</p>")
    return _doc(f"Photo not found · {title}", body)


def error_page(title: str, status: int, reason: str) -> str:
    body = (f"<h1>{escape(title)}</h1>"
            f"<p style=\"text-align:center;font-size:1.15rem\">{escape(reason)}</p>"
            '<p class="muted">Please try again in a moment.</p>')
    return _doc(f"{status} · {title}", body)



def portal_page(title: str) -> str:
    """What a guest sees at any other address on the booth Wi-Fi (share/portal.py)."""
    body = (f"<h1>{escape(title)}</h1>"
            '<p style="text-align:center;font-size:1.3rem;line-height:1.4">'
            "You're on the booth's Wi-Fi.</p>"
            '<p style="text-align:center;font-size:1.15rem">To get your photo, '
            "<b>scan the photo QR code on the booth screen</b> with your camera.</p>"
            '<p class="muted">This Wi-Fi reaches only the booth, not the internet.</p>')
    return _doc(f"Booth Wi-Fi · {title}", body)

@dataclass(frozen=True)
class AdminRow:
    job_id: str
    created_at: float
    status: str
    style: str
    effect: str | None
    error: str | None
    share_url: str | None  # set when the job has a downloadable result


def admin_page(title: str, rows: list[AdminRow], day_label: str) -> str:
    """Today's jobs for the operator: status, thumbnail, the guest's link and its QR."""
    cards = []
    for r in rows:
        when = time.strftime("%H:%M:%S", time.localtime(r.created_at))
        jid = escape(r.job_id)
        if r.share_url:
            url = escape(r.share_url)
            pic = (f'<a href="{url}"><img class="thumb" loading="lazy" '
                   f'src="/admin/thumb/{jid}.jpg" alt="result {jid[:8]}"></a>')
            link = (f'<div class="url"><a href="{url}">{url}</a></div>'
                    "<details><summary>QR for the guest</summary>"
                    f'<img class="qr" loading="lazy" src="/admin/qr/{jid}.svg" '
                    'alt="QR code of the download link"></details>')
        else:
            pic, link = '<div class="nopic"></div>', '<div class="muted">no photo to send</div>'
        err = f'<div class="muted">{escape(r.error)}</div>' if r.error else ""
        effect = f" · {escape(r.effect)}" if r.effect else ""
        cards.append(
            f'<div class="job"><div class="pic">{pic}</div><div class="meta">'
            f'<div><b>{escape(when)}</b> <span class="st {escape(r.status)}">'
            f"{escape(r.status)}</span></div>"
            f'<div class="muted" title="{jid}">{escape(r.style)}{effect} · {jid[:8]}</div>'
            f"{err}{link}</div></div>")
    listing = (f'<div class="jobs">{"".join(cards)}</div>' if cards
               else '<p class="muted">No photos yet today.</p>')
    body = (f"<h1>{escape(title)} · operator</h1>"
            f'<p class="muted">{escape(day_label)}: {len(rows)} job'
            f'{"s" if len(rows) != 1 else ""}, newest first. This page refreshes every 30 s.</p>'
            f"{listing}"
            '<form method="post" action="/admin/logout" class="logout">'
            '<button type="submit" class="btn secondary">Log out</button></form>')
    return _doc(f"Operator · {title}", body, _ADMIN_CSS,
                extra_head='<meta http-equiv="refresh" content="30">')


def login_page(title: str, message: str = "") -> str:
    """The operator's login form (posts the password once; a session cookie follows)."""
    note = f'<p class="note" role="alert">{escape(message)}</p>' if message else ""
    body = (f"<h1>{escape(title)} · operator</h1>{note}"
            '<form method="post" action="/admin/login">'
            '<label for="password">Operator password</label>'
            '<input id="password" name="password" type="password" autocomplete="current-password"'
            ' required autofocus>'
            '<button type="submit" class="btn primary">Log in</button></form>')
    return _doc(f"Operator login · {title}", body, _LOGIN_CSS)
