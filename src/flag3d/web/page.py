"""The web app's one page: upload a recording, follow the job, read the result and report.

Plain HTML and a little vanilla JavaScript (no build step, nothing from the network).  The
script posts the form to ``/api/jobs`` with ``XMLHttpRequest`` (for upload progress),
then polls ``/api/jobs/{id}`` until the job is ``done`` or ``failed``, shows the count,
activity and score, and embeds ``/api/jobs/{id}/report``.  Every server string is put into
the page with ``textContent``, never as HTML.  ``/jobs/{id}`` opens the same page following
that job.

Example:
    >>> from flag3d.web.page import index_html
    >>> page = index_html(200.0, 600.0, ["Sumo Squat"])
    >>> 'id="count"' in page and "200 MB" in page
    True
"""

from __future__ import annotations

import html
import json
from typing import Iterable

from flag3d.web.uploads import SKELETON_SUFFIXES, VIDEO_SUFFIXES

PAGE_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "img-src data:; connect-src 'self'; frame-src 'self'; form-action 'self'; "
            "base-uri 'none'")

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222}
main{max-width:1080px;margin:0 auto;padding:12px 18px 40px}
h1{font-size:1.45em;margin:6px 0}
form{border:1px solid #ddd;border-radius:8px;padding:12px 14px;background:#fafafa;display:flex;
 flex-wrap:wrap;gap:10px;align-items:end}
label{display:flex;flex-direction:column;font-size:.9em;gap:3px}
button{font-size:1em;padding:6px 16px}
#state{margin:14px 0}
progress{width:340px;height:16px}
.big{font-size:2.2em;font-weight:700}
.cards{display:flex;gap:14px;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:8px;padding:8px 14px;min-width:160px}
#error{color:#b00020;font-weight:600;white-space:pre-wrap}
iframe{width:100%;height:1400px;border:1px solid #ddd;border-radius:8px;margin-top:12px}
.muted{color:#666;font-size:.9em}
"""

_JS = """
(function(){
  var $=function(id){return document.getElementById(id);};
  var form=$('upload'), bar=$('bar'), stage=$('stage'), err=$('error');
  function show(id,on){$(id).hidden=!on;}
  function fail(msg){err.textContent=msg; show('error',true); show('working',false);
    $('go').disabled=false; document.body.dataset.state='failed';}
  function done(st){
    show('working',false); show('result',true); document.body.dataset.state='done';
    var s=st.summary||{};
    $('count').textContent=String(s.count); $('count').dataset.count=String(s.count);
    $('activity').textContent=s.activity||'unknown';
    $('score').textContent=s.assessable&&s.score!=null?Number(s.score).toFixed(2)+' of 9':(s.reason||'not assessable');
    $('synthetic').hidden=!s.synthetic;
    $('report-link').href=st.links.report; $('json-link').href=st.links.result;
    $('report').src=st.links.report; $('go').disabled=false;}
  function poll(id){
    var x=new XMLHttpRequest(); x.open('GET','/api/jobs/'+encodeURIComponent(id));
    x.onload=function(){
      var st; try{st=JSON.parse(x.responseText);}catch(e){return fail('bad answer from the server');}
      if(x.status!==200) return fail(st.detail||('error '+x.status));
      if(st.status==='done') return done(st);
      if(st.status==='failed') return fail(st.error||'the analysis failed');
      bar.value=st.progress; stage.textContent=(st.status==='queued'?'waiting for a free worker':st.stage)+
        ' ('+Math.round(100*st.progress)+' %)';
      setTimeout(function(){poll(id);},400);};
    x.onerror=function(){fail('lost the connection to the server');};
    x.send();}
  function follow(id){show('working',true); show('result',false); show('error',false);
    document.body.dataset.state='running'; document.body.dataset.job=id; poll(id);}
  form.onsubmit=function(ev){
    ev.preventDefault(); var f=$('file').files[0];
    if(!f) return fail('choose a video or skeleton file first');
    if(f.size>LIMIT_BYTES) return fail(f.name+': the file is larger than the limit of '+LIMIT_MB+' MB');
    show('error',false); show('result',false); show('working',true); $('go').disabled=true;
    document.body.dataset.state='uploading';
    var data=new FormData(); data.append('file',f);
    var act=$('activity-input').value.trim(); if(act) data.append('activity',act);
    var x=new XMLHttpRequest(); x.open('POST','/api/jobs');
    x.upload.onprogress=function(e){ if(e.lengthComputable){bar.value=0.2*e.loaded/e.total;
      stage.textContent='uploading '+Math.round(100*e.loaded/e.total)+' %';}};
    x.onload=function(){var st; try{st=JSON.parse(x.responseText);}catch(e){st={};}
      if(x.status!==202&&x.status!==200) return fail(st.detail||('upload refused ('+x.status+')'));
      history.replaceState(null,'','/jobs/'+st.id); follow(st.id);};
    x.onerror=function(){fail('the upload failed (connection closed; is the file too large?)');};
    x.send(data);};
  var m=location.pathname.match(/^\\/jobs\\/([0-9a-f]{32})$/); if(m) follow(m[1]);
})();
"""


def index_html(max_upload_mb: float, max_duration_s: float, activity_names: Iterable[str]) -> str:
    """The upload page (limits shown, activity names offered as suggestions)."""
    accept = ",".join(VIDEO_SUFFIXES + SKELETON_SUFFIXES)
    options = "".join(f'<option value="{html.escape(n, quote=True)}">' for n in activity_names)
    script = (_JS.replace("LIMIT_BYTES", json.dumps(int(max_upload_mb * 1e6)))
              .replace("LIMIT_MB", json.dumps(f"{max_upload_mb:g}")))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>flag3d: analyse a workout</title><style>{_CSS}</style></head>'
        '<body data-state="idle"><main><h1>Analyse a workout</h1>'
        '<p class="muted">Upload a phone video (mp4, mov, avi, webm, mkv) or a skeleton file '
        f'(flag3d npz/json, npy, PYSKL pickle, Keraal). Limits: {max_upload_mb:g} MB, '
        f'{max_duration_s:g} s. You get the exercise, the repetitions, how well each met the '
        'standards, and a report.</p>'
        '<form id="upload"><label>Recording<input type="file" id="file" name="file" '
        f'accept="{html.escape(accept)}" required></label>'
        '<label>Exercise (optional)<input type="text" id="activity-input" name="activity" '
        'list="activities" placeholder="recognised if empty" size="28"></label>'
        f'<datalist id="activities">{options}</datalist>'
        '<button id="go" type="submit">Analyse</button></form>'
        '<div id="state"><div id="working" hidden><progress id="bar" max="1" value="0"></progress> '
        '<span id="stage"></span></div><p id="error" hidden></p>'
        '<div id="result" hidden><div class="cards">'
        '<div class="card">Repetitions<div class="big" id="count"></div></div>'
        '<div class="card">Exercise<div class="big" style="font-size:1.3em" id="activity"></div></div>'
        '<div class="card">Quality score<div class="big" style="font-size:1.3em" id="score"></div></div>'
        '</div><p id="synthetic" class="muted" hidden>The input is synthetic (generated motion).</p>'
        '<p><a id="report-link" target="_blank">open the report</a> · '
        '<a id="json-link" target="_blank">result.json</a></p>'
        '<iframe id="report" title="report"></iframe></div></div>'
        f'</main><script>{script}</script></body></html>'
    )
