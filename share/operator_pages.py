"""The operator's pages on the admin listener (share/admin.py): the login form and the event
dashboard, a shell its script fills from /admin/api/state. English only: the operator is staff.
Self-contained like the guests' pages (share/pages.py), with a nonce for the inline script.

Nothing the operator sees may move under a finger: the dashboard shows its sections only once the
first data is in (until then one line says it is loading, and nothing is drawn below it), and every
thumbnail has its box before its picture arrives."""

from __future__ import annotations

from html import escape

from share.pages import doc

_LOGIN_CSS = """
main{max-width:400px}
label{display:block;margin:18px 0 6px}
input{width:100%;min-height:52px;padding:0 14px;border-radius:12px;border:1px solid #3a3846;
background:#17161f;color:#f4f1ea;font:inherit;font-size:1.1rem}
.note{color:#ffc2c8;text-align:center}
"""


_DASH_CSS = """
main{max-width:1180px}
h1{text-align:left;margin:0}
h2{font-size:1.05rem;margin:22px 0 8px;color:#d8d4e4}
.top{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:10px}
.top .actions{display:flex;gap:8px;align-items:center}
.top form{margin:0}
.small{min-height:40px;width:auto;margin:0;padding:0 16px;font-size:.95rem;border-radius:12px}
#event{color:#a9a6b3;margin:0 0 8px}
.health{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:8px;
margin-top:14px}
.part{background:#17161f;border:1px solid #2c2b36;border-left-width:6px;border-radius:12px;
padding:8px 12px;font-size:.9rem;line-height:1.4;min-width:0}
.part b{font-size:.98rem}
.part .reason{color:#f4f1ea}.part .fix{color:#a9a6b3}.part .details{color:#8d8a99;font-size:.82rem}
.lvl-ok{border-left-color:#40c97a}.lvl-warn,.lvl-unknown{border-left-color:#f0a030}
.lvl-error{border-left-color:#eb5757}.lvl-offline{border-left-color:#55535f;background:#121118}
.dot{display:inline-block;width:.7em;height:.7em;border-radius:50%;margin-right:6px;
vertical-align:baseline}
.lvl-ok .dot{background:#40c97a}.lvl-warn .dot,.lvl-unknown .dot{background:#f0a030}
.lvl-error .dot{background:#eb5757}.lvl-offline .dot{background:#55535f}
.counts{display:grid;grid-template-columns:repeat(auto-fill,minmax(112px,1fr));gap:8px}
.count{background:#17161f;border:1px solid #2c2b36;border-radius:12px;padding:8px 10px}
.count b{display:block;font-size:1.6rem;line-height:1.2}
.count span{color:#a9a6b3;font-size:.82rem}
table{border-collapse:collapse;font-size:.9rem}
td,th{padding:3px 14px 3px 0;text-align:left}th{color:#a9a6b3;font-weight:600}
.pager{display:flex;align-items:center;justify-content:space-between;gap:8px;margin:10px 0}
.pager button{width:auto;min-height:40px;margin:0;padding:0 14px}
.jobs{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
.job{display:flex;gap:12px;background:#17161f;border:1px solid #2c2b36;border-radius:14px;
padding:10px;min-width:0}
.job .pic{flex:0 0 96px}
.job .meta{min-width:0;flex:1;font-size:.9rem;line-height:1.45}
img.thumb{width:96px;height:96px;object-fit:contain;border-radius:8px;display:block;
background:#24232d}
.nopic{width:96px;height:96px;border-radius:8px;background:#24232d}
.frames{display:flex;flex-wrap:wrap;gap:4px;margin-top:4px}
img.mini{width:40px;height:40px;object-fit:cover;border-radius:5px;border:2px solid #2c2b36;
display:block;background:#24232d}
img.mini.ready{border-color:#40c97a}img.mini.failed{border-color:#eb5757}
img.mini.in_progress{border-color:#f0a030}
.st{display:inline-block;padding:1px 10px;border-radius:99px;font-size:.8rem;font-weight:600}
.ready{background:#1f4d2e;color:#b7f5c8}.failed{background:#5a1f25;color:#ffc2c8}
.in_progress{background:#4a3d12;color:#ffe7a3}
a{color:#ffd86b}.url{word-break:break-all;font-size:.8rem}
.meta .muted{text-align:left}
.tools{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}
.tools button,.tools a{width:auto;min-height:34px;margin:0;padding:0 12px;font-size:.85rem;
border-radius:10px;display:inline-flex}
.tools .hidden{display:none}
.danger{background:#3a1b20;color:#ffc2c8;border:1px solid #6b2a33}
.modal{position:fixed;inset:0;background:rgba(0,0,0,.7);display:flex;align-items:center;
justify-content:center;padding:16px;z-index:10}
.modal.hidden{display:none}
.sheet{background:#17161f;border:1px solid #3a3846;border-radius:16px;padding:16px;
max-width:420px;width:100%;text-align:center}
.sheet img{width:100%;max-width:340px;height:auto;background:#fff;padding:10px;
border-radius:10px}
.sheet .code{font-size:1.4rem;letter-spacing:.2em;margin:6px 0}
#status-line{margin-top:18px}
.printer{background:#17161f;border:1px solid #2c2b36;border-left-width:6px;border-radius:12px;
padding:10px 12px;margin-top:8px;font-size:.9rem;line-height:1.45}
.printer .reason{color:#f4f1ea}.printer .fix,.printer .facts,.printer .done{color:#a9a6b3}
.printer .tools{margin-top:8px}
.prints{font-size:.82rem;color:#a9a6b3}
.hidden{display:none}
"""

# The dashboard updates itself in place every UPDATE_MS: parts, counts and cards are keyed,
# so a card that did not change is not touched (its thumbnail is not reloaded) and the QR
# sheet, outside the grid, stays open through every update. All text goes in as textContent.
_DASH_JS = """
(function(){
  var UPDATE_MS=2000, page=1, busy=false, updates=0, openJob=null;
  function $(id){return document.getElementById(id);}
  function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;
    if(text!=null)e.textContent=text;return e;}
  function secs(v){return v==null?'\\u2013':(v<10?v.toFixed(1):String(Math.round(v)))+' s';}
  function health(h){
    var box=$('health'), seen={};
    document.body.setAttribute('data-health',h.level);
    h.parts.forEach(function(p,i){
      var id='part-'+p.key, c=document.getElementById(id);
      if(!c){c=el('div');c.id=id;c.appendChild(el('span','dot'));c.appendChild(el('b'));
        c.appendChild(el('div','reason'));c.appendChild(el('div','fix'));
        c.appendChild(el('div','details'));}
      c.className='part lvl-'+p.level;c.setAttribute('data-level',p.level);
      c.children[1].textContent=p.title;
      var words=p.level==='ok'?'OK':(p.reason||p.level);
      if(p.problems&&p.problems.length>1)words=p.problems.map(function(x){return x.reason;})
        .join('; ');
      c.children[2].textContent=words;
      c.children[3].textContent=p.level==='ok'||!p.fix?'':'Fix: '+p.fix;
      c.children[4].textContent=(p.details||[]).join(' \\u00b7 ');
      if(box.children[i]!==c)box.insertBefore(c,box.children[i]||null);
      seen[id]=1;});
    Array.prototype.slice.call(box.children).forEach(function(c){if(!seen[c.id])box.removeChild(c);});
  }
  function count(k,v){var e=document.querySelector('[data-count="'+k+'"] b');if(e)e.textContent=v;}
  function counts(ev){
    $('event').textContent=ev.label.charAt(0).toUpperCase()+ev.label.slice(1)+'.';
    count('photos',ev.photos);count('ai',ev.ai);count('local',ev.local);
    count('failed',ev.failed);count('in_progress',ev.in_progress);
    count('wait_p50',secs(ev.wait_p50_s));count('wait_p95',secs(ev.wait_p95_s));
    var up=document.querySelector('[data-count="uploads_pending"]');
    if(ev.uploads_pending==null){up.classList.add('hidden');}
    else{up.classList.remove('hidden');count('uploads_pending',ev.uploads_pending);}
    var kinds={};Object.keys(ev.fallbacks).forEach(function(k){kinds[k]=[ev.fallbacks[k],0];});
    Object.keys(ev.failures).forEach(function(k){kinds[k]=[(kinds[k]||[0])[0],ev.failures[k]];});
    var body=$('kinds-body');body.textContent='';
    Object.keys(kinds).sort().forEach(function(k){var tr=el('tr');tr.setAttribute('data-kind',k);
      tr.appendChild(el('td',null,k));tr.appendChild(el('td','n-local',String(kinds[k][0])));
      tr.appendChild(el('td','n-failed',String(kinds[k][1])));body.appendChild(tr);});
    $('kinds').classList.toggle('hidden',!Object.keys(kinds).length);
  }
  function card(j){
    var c=el('div','job');c.id='job-'+j.id;c.setAttribute('data-id',j.id);
    var pic=el('div','pic'),meta=el('div','meta');
    var head=el('div');head.appendChild(el('b','when'));
    head.appendChild(document.createTextNode(' '));
    head.appendChild(el('span','st'));meta.appendChild(head);
    meta.appendChild(el('div','muted what'));meta.appendChild(el('div','muted err'));
    meta.appendChild(el('div','url'));
    var tools=el('div','tools');
    var qr=el('button','btn secondary qr-open','QR');qr.type='button';
    qr.addEventListener('click',function(){showQr(c._job);});
    var orig=el('a','btn secondary orig','Original');orig.setAttribute('download','');
    var del=el('button','btn danger del','Delete');del.type='button';
    del.addEventListener('click',function(){remove(c._job);});
    var re=el('button','btn secondary reprint','Reprint');re.type='button';
    re.addEventListener('click',function(){act('/admin/api/jobs/'+c._job.id+'/reprint',{count:1});});
    meta.appendChild(el('div','frames'));meta.appendChild(el('div','prints'));
    tools.appendChild(qr);tools.appendChild(orig);tools.appendChild(re);tools.appendChild(del);
    meta.appendChild(tools);
    c.appendChild(pic);c.appendChild(meta);return c;
  }
  function fill(c,j){
    c._job=j;c.setAttribute('data-phase',j.phase);
    c.querySelector('.when').textContent=j.time;
    var st=c.querySelector('.st');st.className='st '+j.phase;
    st.textContent=j.session?(j.session.layout+' of '+j.session.taken+
      (j.phase==='ready'?'':' \u00b7 in progress')):j.phase==='ready'?
      (j.effect==='gemini'?'AI':'local'):j.phase==='failed'?'failed':'in progress';
    frames(c.querySelector('.frames'),j.session?j.session.frames:[]);
    c.querySelector('.what').textContent=j.style+(j.wait_s!=null?' \\u00b7 '+secs(j.wait_s):'')+
      ' \\u00b7 '+j.id.slice(0,8);
    c.querySelector('.err').textContent=j.error?(j.error.kind+': '+j.error.message):'';
    var url=c.querySelector('.url');url.textContent='';
    if(j.link){var a=el('a',null,j.link);a.href=j.link;a.target='_blank';a.rel='noopener';
      url.appendChild(a);
      if(j.code)url.appendChild(document.createTextNode(' \\u00b7 code '+j.code));}
    var src=j.thumb||j.original_thumb, pic=c.querySelector('.pic'),
      img=pic.querySelector('img');
    if(!img){img=el('img','thumb');img.loading='lazy';img.alt='photo '+j.id.slice(0,8);
      pic.appendChild(img);}
    if(img.getAttribute('src')!==src)img.setAttribute('src',src);
    c.querySelector('.qr-open').classList.toggle('hidden',!j.qr);
    c.querySelector('.orig').setAttribute('href',j.original);
    var pr=j.prints, L=labels||{};
    c.querySelector('.prints').textContent=pr?(pr.printed+' '+(L.printed||'printed')+
      (pr.waiting?' \u00b7 '+pr.waiting+' '+(L.waiting||'waiting'):'')):'';
    var re=c.querySelector('.reprint');re.textContent=L.reprint||'Reprint';
    re.classList.toggle('hidden',!(j.prints&&j.phase==='ready'));
  }
  // a strip session's frames under its sheet: a small picture each, its edge says its phase
  function frames(box,list){
    while(box.children.length>list.length)box.removeChild(box.lastChild);
    list.forEach(function(f,i){var img=box.children[i];
      if(!img){img=el('img','mini');img.loading='lazy';box.appendChild(img);}
      img.className='mini '+f.phase;img.alt='frame '+(i+1);
      img.title=(i+1)+': '+(f.phase==='ready'?(f.effect==='gemini'?'AI':'local'):f.phase)+
        (f.error?' ('+f.error.kind+')':'');
      var src=f.thumb||f.original_thumb;
      if(img.getAttribute('src')!==src)img.setAttribute('src',src);});
  }
  // the Printer card (share/printing.py printer_view): its words, its supplies, the paper left
  var labels=null;
  function printer(p){
    var box=$('printer');box.classList.toggle('hidden',!p);if(!p)return;labels=p.labels;
    var L=p.labels;box.className='printer lvl-'+p.level;box.setAttribute('data-level',p.level);
    $('pr-title').textContent=L.printer+' \u00b7 '+p.queue;
    $('pr-reason').textContent=p.level==='ok'?'OK':(p.problems.length>1?
      p.problems.map(function(x){return x.reason;}).join('; '):(p.reason||p.level));
    $('pr-fix').textContent=p.level==='ok'||!p.fix?'':'Fix: '+p.fix;
    var f=[], pr=p.printer||{};
    if(pr.state)f.push(pr.state+(pr.reasons&&pr.reasons.length?' ('+pr.reasons.join(', ')+')':''));
    (pr.markers||[]).forEach(function(m){if(m.level>=0)f.push(m.name+' '+m.level+'%');});
    f.push(p.budget.left==null?L.no_budget:p.budget.left+' '+L.prints_left);
    f.push((p.prints.printed||0)+' '+L.printed);if(p.waiting)f.push(p.waiting+' '+L.waiting);
    $('pr-facts').textContent=f.join(' \u00b7 ');
    $('pr-resume').textContent=L.resume;$('pr-cancel').textContent=L.cancel_waiting;
    $('pr-paper').textContent=L.add_paper;
    var c=p.last_command;$('pr-done').textContent=c?(c.action+': '+c.result):'';
  }
  function act(url,body){
    fetch(url,{method:'POST',credentials:'same-origin',headers:{'Content-Type':'application/json'},
      body:JSON.stringify(body||{})}).then(function(r){return r.json();})
    .then(function(a){$('pr-done').textContent=a.action?(a.action+': '+(a.result||a.note)):
      (a.error||'');refresh();}).catch(function(){});
  }
  $('pr-resume').addEventListener('click',function(){act('/admin/api/print/resume');});
  $('pr-cancel').addEventListener('click',function(){act('/admin/api/print/cancel');});
  $('pr-paper').addEventListener('click',function(){
    var n=window.prompt(labels?labels.sheets:'sheets','400');
    if(n)act('/admin/api/print/add-paper',{count:parseInt(n,10)});});
  function jobs(list){
    var box=$('gallery'),seen={};
    list.forEach(function(j,i){var id='job-'+j.id,c=document.getElementById(id);
      if(!c)c=card(j);fill(c,j);if(box.children[i]!==c)box.insertBefore(c,box.children[i]||null);
      seen[id]=1;});
    Array.prototype.slice.call(box.children).forEach(function(c){if(!seen[c.id])box.removeChild(c);});
    $('empty').classList.toggle('hidden',list.length>0);
  }
  function showQr(j){
    if(!j||!j.qr)return;openJob=j.id;
    $('qr-img').setAttribute('src',j.qr);$('qr-link').textContent=j.link||'';
    $('qr-code').textContent=j.code?('code '+j.code):'';$('qr').classList.remove('hidden');
  }
  function hideQr(){openJob=null;$('qr').classList.add('hidden');}
  $('qr-close').addEventListener('click',hideQr);
  $('qr').addEventListener('click',function(e){if(e.target===$('qr'))hideQr();});
  document.addEventListener('keydown',function(e){if(e.key==='Escape')hideQr();});
  function remove(j){
    if(!j||!window.confirm('Delete this photo for good? Its file, link and cloud copy go.'))return;
    fetch('/admin/api/jobs/'+j.id+'/delete',{method:'POST',credentials:'same-origin'})
      .then(function(){if(openJob===j.id)hideQr();refresh();});
  }
  $('prev').addEventListener('click',function(){if(page>1){page--;refresh();}});
  $('next').addEventListener('click',function(){page++;refresh();});
  function refresh(){
    if(busy)return;busy=true;
    fetch('/admin/api/state?page='+page,{credentials:'same-origin',cache:'no-store'})
    .then(function(r){if(r.status===401){location.href='/admin/login';throw 0;}return r.json();})
    .then(function(s){
      page=s.page;health(s.health);counts(s.event);printer(s.printer);jobs(s.jobs);
      $('loading').classList.add('hidden');$('live').classList.remove('hidden');
      $('pageinfo').textContent='Page '+s.page+' of '+s.pages;
      $('prev').disabled=s.page<=1;$('next').disabled=s.page>=s.pages;
      updates++;document.body.setAttribute('data-updates',String(updates));
      $('status-line').textContent='Updated '+new Date().toLocaleTimeString()+'.';
    }).catch(function(e){if(e!==0)$('status-line').textContent=
      'Cannot reach the booth: trying again.';})
    .then(function(){busy=false;});
  }
  refresh();setInterval(refresh,UPDATE_MS);
})();
"""

_COUNTS = (
    ("photos", "photos"),
    ("ai", "by the AI"),
    ("local", "local effect"),
    ("failed", "failed"),
    ("in_progress", "in progress"),
    ("wait_p50", "wait, median"),
    ("wait_p95", "wait, p95"),
    ("uploads_pending", "uploads waiting"),
)


def dashboard_page(title: str, nonce: str) -> str:
    """The operator's event dashboard: a shell the script fills from /admin/api/state."""
    counts = "".join(
        f'<div class="count" data-count="{k}"><b>–</b><span>{escape(label)}</span></div>'
        for k, label in _COUNTS
    )
    body = (
        '<header class="top"><div>'
        f'<h1>{escape(title)} · operator</h1></div><div class="actions">'
        '<a id="zip" class="btn primary small" href="/admin/event.zip">Download all (zip)</a>'
        '<form method="post" action="/admin/logout"><button type="submit" '
        'class="btn secondary small">Log out</button></form></div></header>'
        '<noscript><p class="muted">This page needs JavaScript.</p></noscript>'
        '<p id="loading" class="muted">Loading…</p><div id="live" class="hidden">'
        '<section id="health" class="health" aria-live="polite"></section>'
        '<section id="printer" class="printer hidden" aria-live="polite"><b id="pr-title"></b>'
        '<div id="pr-reason" class="reason"></div><div id="pr-fix" class="fix"></div>'
        '<div id="pr-facts" class="facts"></div><div class="tools">'
        '<button id="pr-resume" type="button" class="btn secondary"></button>'
        '<button id="pr-cancel" type="button" class="btn danger"></button>'
        '<button id="pr-paper" type="button" class="btn secondary"></button></div>'
        '<div id="pr-done" class="done"></div></section>'
        '<h2>The event</h2><p id="event"></p>'
        f'<section class="counts">{counts}</section>'
        '<div id="kinds" class="hidden"><h2>What went wrong, by kind</h2><table><thead><tr>'
        "<th>kind</th><th>local picture instead</th><th>no picture</th></tr></thead>"
        '<tbody id="kinds-body"></tbody></table></div>'
        '<h2>Photos</h2><nav class="pager"><button id="prev" type="button" '
        'class="btn secondary">‹ Newer</button><span id="pageinfo"></span>'
        '<button id="next" type="button" class="btn secondary">Older ›</button></nav>'
        '<section id="gallery" class="jobs"></section>'
        '<p id="empty" class="muted hidden">No photos in this event yet.</p></div>'
        '<p id="status-line" class="muted"></p>'
        '<div id="qr" class="modal hidden" role="dialog" aria-modal="true" '
        'aria-label="Download QR"><div class="sheet">'
        '<img id="qr-img" alt="QR code of the download link">'
        '<div id="qr-code" class="code"></div><div id="qr-link" class="url"></div>'
        '<button id="qr-close" type="button" class="btn secondary">Close</button></div></div>'
    )
    return doc(f"Operator · {title}", body, _DASH_CSS, _DASH_JS, nonce)


def login_page(title: str, message: str = "") -> str:
    """The operator's login form (posts the password once; a session cookie follows)."""
    note = f'<p class="note" role="alert">{escape(message)}</p>' if message else ""
    body = (
        f"<h1>{escape(title)} · operator</h1>{note}"
        '<form method="post" action="/admin/login">'
        '<label for="password">Operator password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password"'
        " required autofocus>"
        '<button type="submit" class="btn primary">Log in</button></form>'
    )
    return doc(f"Operator login · {title}", body, _LOGIN_CSS)
