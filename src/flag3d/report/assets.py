"""The report's inline style sheet and its small skeleton player script (no external files).

The player reads two JSON blocks of the page (``#anim-data``: frames from
:func:`flag3d.report.drawing.animation_data`; ``#rep-data``: repetition intervals) and draws
the skeleton in an inline ``<svg>`` with a play button, a time slider and a running
repetition counter.  Without JavaScript the key-frame strip still shows the motion.

Example:
    >>> from flag3d.report.assets import CSS, PLAYER_JS
    >>> "http" in CSS + PLAYER_JS
    False
"""

CSS = """
:root{--ok:#2ca02c;--bad:#d62728;--mute:#666;--line:#ddd;--bg:#fafafa}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fff}
main{max-width:1060px;margin:0 auto;padding:0 18px 40px}
header{border-bottom:1px solid var(--line);padding:14px 0 8px;margin-bottom:12px}
h1{font-size:1.5em;margin:0 0 2px}h2{font-size:1.15em;margin:26px 0 8px;border-bottom:1px solid var(--line);padding-bottom:3px}
h3{font-size:1em;margin:12px 0 4px}
.sub{color:var(--mute);margin:0;font-size:.9em;word-break:break-all}
.banner{background:#fff4d6;border:1px solid #e8c55a;padding:8px 12px;border-radius:6px;margin:10px 0}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{flex:1 1 220px;border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--bg)}
.big{font-size:2.4em;font-weight:700;line-height:1.1}
.muted{color:var(--mute)}.ok{color:var(--ok)}.bad{color:var(--bad)}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:var(--bg)}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.facts td:first-child{color:var(--mute);width:40%}
.bar{display:inline-block;height:9px;background:#4a78c2;border-radius:2px;vertical-align:middle}
.strip{display:flex;flex-wrap:wrap;gap:6px}
.rep{border:2px solid #bbb;border-radius:6px;padding:2px 4px;text-align:center;font-size:.8em}
.rep.good{border-color:var(--ok)}.rep.fail{border-color:var(--bad)}
svg.pose line,#player line{stroke-width:2.2;stroke-linecap:round}
svg.pose text{font-size:9px;fill:#555}
.plot svg{width:100%;height:auto}
#player-box{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}
#player{border:1px solid var(--line);border-radius:8px;background:var(--bg)}
#controls{display:flex;gap:8px;align-items:center;margin-top:6px}
#controls input{width:240px}
#live{font-size:1.6em;font-weight:700}
ul.fb li{margin:3px 0}
blockquote{margin:6px 0;padding:6px 12px;border-left:4px solid #9bb4dc;background:var(--bg);white-space:pre-line}
footer{margin-top:30px;color:var(--mute);font-size:.85em}
"""

PLAYER_JS = """
(function(){
  var el=document.getElementById('anim-data'); if(!el) return;
  var d=JSON.parse(el.textContent), reps=JSON.parse(document.getElementById('rep-data').textContent);
  var svg=document.getElementById('player'), NS=svg.namespaceURI, lines=[];
  for(var k=0;k<d.e.length;k++){var l=document.createElementNS(NS,'line');
    l.setAttribute('stroke',d.c[k]);svg.appendChild(l);lines.push(l);}
  var slider=document.getElementById('seek'), btn=document.getElementById('play'),
      live=document.getElementById('live'), clock=document.getElementById('clock');
  slider.max=d.t.length-1;
  var i=0, playing=false, last=null, t0=0;
  function count(t){var n=0,cur=-1;for(var r=0;r<reps.length;r++){
      if(reps[r][1]<=t+1e-6) n++; else if(reps[r][0]<=t) cur=r;} return [n,cur];}
  function draw(){var p=d.p[i];
    for(var k=0;k<d.e.length;k++){var a=d.e[k][0]*2,b=d.e[k][1]*2,l=lines[k];
      if(p[a]<0||p[b]<0){l.setAttribute('visibility','hidden');continue;}
      l.setAttribute('visibility','visible');
      l.setAttribute('x1',p[a]/10);l.setAttribute('y1',p[a+1]/10);
      l.setAttribute('x2',p[b]/10);l.setAttribute('y2',p[b+1]/10);}
    var t=d.t[i], c=count(t); slider.value=i; clock.textContent=t.toFixed(1)+' s';
    live.textContent=c[0]+(c[1]>=0?' (in repetition '+(c[1]+1)+')':'');}
  function step(now){ if(!playing) return;
    if(last===null){last=now;t0=d.t[i];}
    var t=t0+(now-last)/1000;
    while(i<d.t.length-1&&d.t[i+1]<=t) i++;
    draw();
    if(i>=d.t.length-1){playing=false;btn.textContent='play';return;}
    requestAnimationFrame(step);}
  btn.onclick=function(){playing=!playing;btn.textContent=playing?'pause':'play';
    if(playing){if(i>=d.t.length-1)i=0;last=null;requestAnimationFrame(step);}};
  slider.oninput=function(){i=+slider.value;last=null;draw();};
  draw();
})();
"""
