using System.Text;
using HeadWise.Eval;

namespace HeadWise.Reports;

/// <summary>
/// A sweep's report: the accuracy-vs-KV-memory PNG and needle heatmap PNGs, and DIR/index.html, one self-contained page
/// with the same curve drawn interactively (hover a point for its cell; click a policy in the legend to hide or show it),
/// the table of every cell, and each cell's needle grid.
/// </summary>
public static class SweepReport
{
    /// <summary>Writes the PNGs and index.html into <paramref name="dir"/>; returns the PNG names.</summary>
    public static IReadOnlyList<string> Write(IReadOnlyList<BenchResult> results, string dir)
    {
        var files = new List<string> { "accuracy_vs_kv.png" };
        AccuracyMemoryPlot.Save(results, Path.Combine(dir, files[0]));
        foreach (var r in results.Where(r => r.Depths is not null))
        {
            var name = $"heatmap_{Safe(r.Policy)}_{Safe(r.Budget)}.png";
            NeedleHeatmap.Save(r, Path.Combine(dir, name));
            files.Add(name);
        }
        var r0 = results[0];
        var data = new
        {
            model = r0.Model, task = r0.Task, lengths = r0.Lengths, samples = r0.Samples, seed = r0.Seed,
            cells = results.Select(r => new
            {
                policy = r.Policy, budget = r.Budget, accuracy = r.Accuracy * 100, kv_mib = r.KvBytes / 1048576.0, full_mib = r.KvBytesFull / 1048576.0,
                grid = r.Grid.Select(c => new { length = c.Length, depth = c.Depth, accuracy = c.Accuracy * 100 }),
            }),
        };
        var body = new StringBuilder()
            .Append($"<h1>{HtmlPage.E(r0.Model)} · {HtmlPage.E(r0.Task)}</h1><div class=\"meta\">lengths {HtmlPage.E(string.Join(", ", r0.Lengths))}; ")
            .Append($"{r0.Samples} sample(s) per grid cell; seed {r0.Seed}. Raw numbers: <a href=\"results.json\">results.json</a>, <a href=\"timings.json\">timings.json</a>.</div>")
            .Append("<div class=\"panel\" id=\"cell\">hover a point; click a policy in the legend to hide or show it</div>")
            .Append("<svg id=\"chart\" width=\"900\" height=\"460\"></svg><div id=\"legend\"></div>")
            .Append("<h2>Every cell</h2><table id=\"cells\"><tr><th>policy</th><th>budget</th><th>accuracy %</th><th>KV MiB</th><th>full KV MiB</th><th>kept %</th></tr></table>")
            .Append("<div id=\"needles\"></div>");
        HtmlPage.Write(Path.Combine(dir, "index.html"), $"{r0.Model} · {r0.Task}", body.ToString(), data, Script, Css);
        return files;
    }

    private static string Safe(string s) => string.Concat(s.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' ? c : '_'));

    private const string Css =
        "#chart{border:1px solid #ddd;background:#fff}#legend span{display:inline-block;margin:2px 10px 2px 0;cursor:pointer}" +
        "#legend span.off{opacity:.3}#legend i{display:inline-block;width:12px;height:12px;margin-right:4px;border-radius:6px}" +
        ".needle td{width:34px;text-align:center}.needles{display:flex;flex-wrap:wrap;gap:12px}";

    private const string Script = """
        const cells=DATA.cells,policies=[...new Set(cells.map(c=>c.policy))],hidden=new Set();
        const PAL=['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf','#393b79','#637939','#8c6d31','#843c39'];
        const color=p=>PAL[policies.indexOf(p)%PAL.length],panel=document.getElementById('cell'),svg=document.getElementById('chart');
        const W=900,Hh=460,m={l:60,r:20,t:20,b:50},xmax=Math.max(...cells.map(c=>c.kv_mib))*1.08||1;
        const X=v=>m.l+v/xmax*(W-m.l-m.r),Y=v=>Hh-m.b-(v+5)/110*(Hh-m.t-m.b);
        function draw(){let s='';
          for(let a=0;a<=100;a+=20)s+='<line x1="'+m.l+'" x2="'+(W-m.r)+'" y1="'+Y(a)+'" y2="'+Y(a)+'" stroke="#eee"/><text x="'+(m.l-8)+'" y="'+(Y(a)+4)+'" text-anchor="end" font-size="12">'+a+'</text>';
          for(let i=0;i<=5;i++){const v=xmax*i/5;s+='<text x="'+X(v)+'" y="'+(Hh-m.b+18)+'" text-anchor="middle" font-size="12">'+fmt(v)+'</text>';}
          s+='<text x="'+((W+m.l)/2)+'" y="'+(Hh-8)+'" text-anchor="middle" font-size="13">KV cache kept (MiB, mean per prompt)</text>';
          s+='<text transform="translate(16,'+(Hh/2)+') rotate(-90)" text-anchor="middle" font-size="13">accuracy (%)</text>';
          policies.filter(p=>!hidden.has(p)).forEach(p=>{const pts=cells.filter(c=>c.policy===p).sort((a,b)=>a.kv_mib-b.kv_mib);
            s+='<polyline fill="none" stroke="'+color(p)+'" stroke-width="2" points="'+pts.map(c=>X(c.kv_mib)+','+Y(c.accuracy)).join(' ')+'"/>';
            pts.forEach(c=>{s+='<circle class="pt" r="6" fill="'+color(p)+'" stroke="#fff" cx="'+X(c.kv_mib)+'" cy="'+Y(c.accuracy)+'" data-i="'+cells.indexOf(c)+'"/>';});});
          svg.innerHTML=s;}
        svg.addEventListener('mouseover',ev=>{const i=ev.target.dataset&&ev.target.dataset.i;if(i===undefined)return;const c=cells[+i];
          panel.innerHTML='<b>'+esc(c.policy)+'</b> budget '+esc(c.budget)+': accuracy '+c.accuracy.toFixed(1)+' %, KV '+fmt(c.kv_mib)+' MiB of '+fmt(c.full_mib)+' MiB ('+(100*c.kv_mib/Math.max(c.full_mib,1e-12)).toFixed(0)+' %)';});
        const legend=document.getElementById('legend');
        policies.forEach(p=>{const e=document.createElement('span');e.innerHTML='<i style="background:'+color(p)+'"></i>'+esc(p);
          e.addEventListener('click',()=>{hidden.has(p)?hidden.delete(p):hidden.add(p);e.classList.toggle('off');draw();});legend.appendChild(e);});
        const table=document.getElementById('cells');
        cells.forEach(c=>table.insertAdjacentHTML('beforeend','<tr><td>'+esc(c.policy)+'</td><td>'+esc(c.budget)+'</td><td>'+c.accuracy.toFixed(1)+'</td><td>'+c.kv_mib.toFixed(3)+
          '</td><td>'+c.full_mib.toFixed(3)+'</td><td>'+(100*c.kv_mib/Math.max(c.full_mib,1e-12)).toFixed(0)+'</td></tr>'));
        const withDepth=cells.filter(c=>c.grid.some(g=>g.depth!==null));
        if(withDepth.length){let h='<h2>Needle grids (accuracy %, depth down, length across)</h2><div class="needles">';
          withDepth.forEach(c=>{const L=[...new Set(c.grid.map(g=>g.length))].sort((a,b)=>a-b),D=[...new Set(c.grid.map(g=>g.depth))].sort((a,b)=>a-b);
            h+='<table class="needle"><caption>'+esc(c.policy)+' @ '+esc(c.budget)+'</caption><tr><th></th>'+L.map(l=>'<th>'+l+'</th>').join('')+'</tr>';
            D.forEach(d=>{h+='<tr><th>'+Math.round(d*100)+'%</th>'+L.map(l=>{const g=c.grid.find(x=>x.length===l&&x.depth===d);const v=g?g.accuracy:null;
              return v===null?'<td></td>':'<td style="background:'+viridis(v/100)+';color:'+ink(v/100)+'">'+v.toFixed(0)+'</td>';}).join('')+'</tr>';});
            h+='</table>';});
          document.getElementById('needles').innerHTML=h+'</div>';}
        draw();
        """;
}
