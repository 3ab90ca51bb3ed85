"""The HTML the share server sends to guests: the photo pages (LAN and cloud), the code page,
the portal page and friendly errors (the operator's pages: share/operator_pages.py).

Why hand-written HTML: the booth's hotspot has no internet, so every page is one self-contained
document (inline CSS, a few lines of inline script, no fonts or CDNs). Everything that comes from
configuration or the ledger goes through `html.escape`. Each page is rendered with the texts
of one language (booth/texts.py; which one: share/server.py `GuestTexts`) and says so in
`<html lang>`.

Nothing may move once a guest sees it (on slow booth Wi-Fi the photo arrives seconds after the
page, and a Download button that jumps gets the wrong tap): the photo's box has its size from the
start (`PhotoSize`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from booth.texts import Texts

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

_CODE_CSS = """
form{margin:18px 0 0}
label{display:block;text-align:center;line-height:1.45;margin:0 0 12px}
input{display:block;width:100%;min-height:58px;border-radius:16px;border:1px solid #3a3846;
background:#17161f;color:#f4f1ea;font:inherit;font-size:1.6rem;letter-spacing:.25em;
text-align:center;text-transform:uppercase}
.wrong{color:#ffb37a;text-align:center}
"""

_PHOTO_CSS = """
.photo{display:block;width:100%;height:auto;border-radius:18px;background:#1a1922;
box-shadow:0 10px 40px rgba(0,0,0,.55)}
.frame{position:relative}
footer{margin-top:18px}
.clip{margin-top:22px}
.clip video{object-fit:contain}
.frames{margin-top:22px}
.frames h2{font-size:1.15rem;text-align:center;margin:0 0 10px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.grid figure{margin:0;display:flex;flex-direction:column}
.grid .btn{min-height:48px;font-size:1rem;margin-top:auto}
.grid img{margin-bottom:8px}
.photo.tall{height:72vh;width:auto;max-width:100%;margin:0 auto}
"""


@dataclass(frozen=True)
class PhotoSize:
    """A photo's size in pixels, as its file's header says."""

    width: int
    height: int


@dataclass(frozen=True)
class ClipLink:
    """A job's reveal clip as the page offers it (share/clips.py makes it)."""

    src: str  # plays inline
    download_href: str
    filename: str
    size: PhotoSize


@dataclass(frozen=True)
class FrameLink:
    """One frame of a strip session as its sheet's page offers it: the frame's own picture (on
    the LAN its token's routes, in the cloud its own object) and download."""

    n: int  # 1, 2 ... in shot order
    src: str
    download_href: str
    filename: str
    size: PhotoSize | None

    @classmethod
    def lan(cls, n: int, token: str, filename: str, size: PhotoSize | None) -> FrameLink:
        """A frame served by the share server, by its own token."""
        photo = f"/p/{token}/photo.jpg"
        return cls(n, photo, photo + "?dl=1", filename, size)


def _photo_box(size: PhotoSize | None) -> str:
    """The img attributes that give the photo its box before it loads: width and height, and
    the same ratio as CSS (the page's CSS scales the width to the screen, the height follows)."""
    if size is None:
        return ""
    w, h = size.width, size.height
    return f' width="{w}" height="{h}" style="aspect-ratio:{w}/{h}"'


def _text(s: str) -> str:
    """Text for an element's content (quotes need no escaping there)."""
    return escape(s, quote=False)


def doc(
    title: str,
    body: str,
    css: str = "",
    script: str = "",
    nonce: str = "",
    extra_head: str = "",
    lang: str = "en",
) -> str:
    script_tag = f'<script nonce="{escape(nonce)}">{script}</script>' if script else ""
    return (
        f'<!doctype html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">'
        '<meta name="robots" content="noindex,nofollow">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="color-scheme" content="dark">'
        f"{extra_head}<title>{escape(title)}</title>"
        f"<style>{_BASE_CSS}{css}</style></head>"
        f"<body><main>{body}</main>{script_tag}</body></html>\n"
    )


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
  var ios=/iPhone|iPad|iPod/.test(ua)
    ||(navigator.platform==='MacIntel'&&navigator.maxTouchPoints>1);
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


def until_text(t: Texts, ts: float) -> str:
    """The date a link stops working (+ the time when it is less than two days away), booth
    local time, written the way the guest's language writes it."""
    text = t.date(ts)
    if ts - time.time() < 2 * 86400:
        text += time.strftime(", %H:%M", time.localtime(ts))
    return text


def guest_page(
    t: Texts,
    title: str,
    photo_src: str,
    download_href: str,
    filename: str,
    link_note: str,
    nonce: str,
    extra_head: str = "",
    size: PhotoSize | None = None,
    clip: ClipLink | None = None,
    frames: Sequence[FrameLink] = (),
) -> str:
    """The guest's page, LAN or cloud copy: the picture, Download, Share (where the browser
    can share files), the reveal clip when there is one, a strip session's frames one by one,
    the event title and how long the link works (`link_note`, which must not promise more than
    the link keeps). `size`: the photo's, so nothing below it moves when it arrives."""
    name = escape(filename)
    body = (
        f"<h1>{escape(title)}</h1>"
        '<p id="howto" class="howto" '
        f'data-ios-hold="{escape(t("page_ios_hold"))}" '
        f'data-ios-share="{escape(t("page_ios_share"))}">'
        f"{_text(t('page_howto'))}</p>"
        f'<div class="frame"><img id="photo" class="photo{_tall(size, frames)}" '
        f'src="{escape(photo_src)}"'
        f'{_photo_box(size)} alt="{escape(t("page_alt", title=title))}"></div>'
        f'<a id="download" class="btn primary" href="{escape(download_href)}" '
        f'download="{name}" data-ios="{escape(t("page_download_files"))}">&#11015;&#xFE0E;'
        f"<span> {_text(t('page_download'))}</span></a>"
        f'<button id="share" type="button" class="btn secondary hidden" '
        f'data-name="{name}">{_text(t("page_share"))}</button>'
        f"{_clip_section(t, title, photo_src, clip)}"
        f"{_frames_section(t, title, frames)}"
        "<footer>"
        f'<p id="tip" class="muted">{_text(t("page_tip"))}</p>'
        f'<p id="lifetime" class="muted">{_text(link_note)}</p>'
        "</footer>"
    )
    return doc(title, body, _PHOTO_CSS, _SHARE_JS, nonce, extra_head, lang=t.language)


def _clip_section(t: Texts, title: str, poster: str, clip: ClipLink | None) -> str:
    """The reveal clip: playing inline, muted and looped (what phones allow without a tap),
    the photo as its poster, its box sized from the start; and its download button."""
    if clip is None:
        return ""
    return (
        '<section id="clip" class="clip">'
        f'<video id="clip-video" class="photo" src="{escape(clip.src)}" '
        f'poster="{escape(poster)}"{_photo_box(clip.size)} '
        'autoplay muted loop playsinline preload="auto" '
        f'aria-label="{escape(t("page_clip_label", title=title))}"></video>'
        f'<a id="download-clip" class="btn secondary" href="{escape(clip.download_href)}" '
        f'download="{escape(clip.filename)}">&#11015;&#xFE0E;'
        f"<span> {_text(t('page_download_clip'))}</span></a>"
        f'<p class="muted">{_text(t("page_clip_tip"))}</p>'
        "</section>"
    )


def _tall(size: PhotoSize | None, frames: Sequence[FrameLink]) -> str:
    """A strip session's 2x6 strip (three times as tall as wide) is held to most of the
    screen's height, so Download stays within a thumb's reach; its box still comes from its
    size (no layout shift)."""
    return " tall" if frames and size is not None and size.height > 1.5 * size.width else ""


def _frames_section(t: Texts, title: str, frames: Sequence[FrameLink]) -> str:
    """A strip session's frames, two abreast, each sized from the start, with its download."""
    if not frames:
        return ""
    total = len(frames)
    items = "".join(
        "<figure>"
        f'<img class="photo" src="{escape(f.src)}"{_photo_box(f.size)} '
        f'loading="lazy" alt="{escape(t("page_frame_alt", n=f.n, total=total, title=title))}">'
        f'<a class="btn secondary" href="{escape(f.download_href)}" '
        f'download="{escape(f.filename)}">&#11015;&#xFE0E;'
        f"<span> {_text(t('page_download_frame', n=f.n))}</span></a>"
        "</figure>"
        for f in frames
    )
    return (
        '<section id="frames" class="frames">'
        f"<h2>{_text(t('page_strip_photos'))}</h2>"
        f'<div class="grid">{items}</div>'
        "</section>"
    )


def photo_page(
    t: Texts,
    title: str,
    token: str,
    filename: str,
    retention_days: float,
    nonce: str,
    size: PhotoSize | None = None,
    clip_size: PhotoSize | None = None,
    frames: Sequence[FrameLink] = (),
) -> str:
    """The LAN copy, served by the share server at /p/<token>; `clip_size` when the job has a
    reveal clip (at /p/<token>/clip.mp4); `frames` when it is a strip session's sheet."""
    photo = f"/p/{token}/photo.jpg"
    clip = None
    if clip_size is not None:
        src = f"/p/{token}/clip.mp4"
        clip = ClipLink(src, src + "?dl=1", clip_filename(filename), clip_size)
    return guest_page(
        t,
        title,
        photo,
        photo + "?dl=1",
        filename,
        t("page_lan_note", days=t.days(retention_days)),
        nonce,
        size=size,
        clip=clip,
        frames=frames,
    )


def clip_filename(photo_filename: str) -> str:
    """The clip's download name: the photo's, as an MP4 (`drip-2026-11-24-0042.mp4`)."""
    stem, dot, _ext = photo_filename.rpartition(".")
    return (stem if dot else photo_filename) + ".mp4"


def cloud_page(
    t: Texts,
    title: str,
    photo_url: str,
    filename: str,
    expires_at: float,
    nonce: str,
    size: PhotoSize | None = None,
    clip: ClipLink | None = None,
    frames: Sequence[FrameLink] = (),
) -> str:
    """The cloud copy, uploaded next to the photo (and its clip, when it has one; a strip
    session's sheet links its frames' own objects): it has no server behind it, so its
    Content-Security-Policy travels in a meta element (frame-ancestors cannot)."""
    csp = (
        "default-src 'none'; img-src 'self' blob: data:; media-src 'self'; "
        "style-src 'unsafe-inline'; "
        f"script-src 'nonce-{nonce}'; connect-src 'self'; base-uri 'none'; "
        "form-action 'none'"
    )
    # an empty icon: a bucket has no /favicon.ico, and the browser would log its 404
    head = (
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">'
        '<link rel="icon" href="data:,">'
    )
    return guest_page(
        t,
        title,
        photo_url,
        photo_url,
        filename,
        t("page_cloud_note", until=until_text(t, expires_at)),
        nonce,
        head,
        size,
        clip,
        frames,
    )


def not_found_page(t: Texts, title: str) -> str:
    body = (
        f"<h1>{escape(title)}</h1>"
        f'<p style="text-align:center;font-size:1.15rem">{_text(t("page_not_found"))}</p>'
        f'<p class="muted">{_text(t("page_not_found_hint"))}</p>'
    )
    return doc(f"{t('page_not_found')} · {title}", body, lang=t.language)


def error_page(t: Texts, title: str, status: int, reason: str) -> str:
    body = (
        f"<h1>{escape(title)}</h1>"
        f'<p style="text-align:center;font-size:1.15rem">{escape(reason)}</p>'
        f'<p class="muted">{_text(t("page_try_later"))}</p>'
    )
    return doc(f"{status} · {title}", body, lang=t.language)


def code_page(t: Texts, title: str, message: str = "", typed: str = "") -> str:
    """Where a guest who cannot scan types the short code printed under the QR code."""
    wrong = f'<p class="wrong" role="alert">{_text(message)}</p>' if message else ""
    body = (
        f"<h1>{escape(title)}</h1>"
        '<form method="get" action="/">'
        f'<label for="code">{_text(t("page_code_prompt"))}</label>'
        f'<input id="code" name="code" value="{escape(typed)}" maxlength="9" '
        'autocomplete="off" autocapitalize="characters" autocorrect="off" '
        'spellcheck="false" required autofocus>'
        f"{wrong}"
        f'<button class="btn primary" type="submit">{_text(t("page_code_button"))}</button>'
        "</form>"
    )
    return doc(title, body, _CODE_CSS, lang=t.language)


def portal_page(t: Texts, title: str) -> str:
    """What a guest sees at any other address on the booth Wi-Fi (share/portal.py)."""
    body = (
        f"<h1>{escape(title)}</h1>"
        '<p style="text-align:center;font-size:1.3rem;line-height:1.4">'
        f"{_text(t('page_portal_wifi'))}</p>"
        f'<p style="text-align:center;font-size:1.15rem">{_text(t("page_portal_scan"))}</p>'
        f'<p class="muted">{_text(t("page_portal_no_internet"))}</p>'
    )
    return doc(title, body, lang=t.language)
