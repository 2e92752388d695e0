using System.Text;

namespace HeadWise.Reports;

/// <summary>
/// An interactive attention page: the prompt's tokens, a layer and head picker, and the selected head's pattern as a
/// heatmap. Hovering a token (or a heatmap row) shows that query's attention row: every key token is shaded by its weight
/// and the panel lists the largest weights. Weights are embedded as bytes (1/255 steps) so long prompts stay small.
/// </summary>
public static class AttentionReport
{
    /// <summary>
    /// Writes the page. <paramref name="patterns"/>[i] is layer <paramref name="layers"/>[i]'s pattern [heads][T][T]
    /// (rows are queries); <paramref name="tokens"/> are the T token labels.
    /// </summary>
    public static void Write(string path, string model, string prompt, IReadOnlyList<string> tokens, IReadOnlyList<int> layers,
        IReadOnlyList<float[][][]> patterns)
    {
        if (layers.Count == 0 || layers.Count != patterns.Count) throw new HeadWiseException("attention report: one pattern per layer is needed");
        int t = tokens.Count, heads = patterns[0].Length;
        var bytes = new byte[layers.Count * heads * t * t];
        int o = 0;
        foreach (var layer in patterns)
            foreach (var head in layer)
                foreach (var row in head)
                {
                    if (row.Length != t) throw new HeadWiseException($"attention report: a row has {row.Length} keys for {t} tokens");
                    foreach (var w in row) bytes[o++] = (byte)Math.Round(Math.Clamp(w, 0f, 1f) * 255);
                }
        var data = new { model, prompt, tokens, layers, heads, weights = Convert.ToBase64String(bytes) };
        var body = new StringBuilder()
            .Append($"<h1>Attention: {HtmlPage.E(model)}</h1><div class=\"meta\">{t} tokens; rows (queries) attend to columns (keys). ")
            .Append("Hover a token to see its attention row.</div>")
            .Append("<label>layer <select id=\"layer\"></select></label> <label>head <select id=\"head\"></select></label>")
            .Append("<div class=\"panel\" id=\"row\">hover a token</div>")
            .Append("<div id=\"tokens\"></div>")
            .Append("<h2>Pattern of the selected head</h2><canvas id=\"map\"></canvas>")
            .Append("<p class=\"note\">Weights are stored in steps of 1/255; the panel shows them to two decimals.</p>");
        HtmlPage.Write(path, $"Attention: {model}", body.ToString(), data, Script, Css);
    }

    private const string Css =
        "#tokens{line-height:2.1;font-family:ui-monospace,monospace;font-size:14px;margin:8px 0}" +
        ".tok{padding:2px 1px;margin:0 1px;border-radius:3px;cursor:default;white-space:pre}.tok.q{outline:2px solid #e01b24}" +
        "#map{border:1px solid #ccc;image-rendering:pixelated;cursor:crosshair}";

    private const string Script = """
        const T=DATA.tokens.length,H=DATA.heads,raw=atob(DATA.weights),W=new Uint8Array(raw.length);
        for(let i=0;i<raw.length;i++)W[i]=raw.charCodeAt(i);
        const layerSel=document.getElementById('layer'),headSel=document.getElementById('head'),panel=document.getElementById('row');
        DATA.layers.forEach((l,i)=>layerSel.add(new Option(String(l),String(i))));
        for(let h=0;h<H;h++)headSel.add(new Option(String(h),String(h)));
        const box=document.getElementById('tokens'),spans=[];
        const shown=s=>s.replace(/\n/g,'\\n');
        DATA.tokens.forEach((s,i)=>{const e=document.createElement('span');e.className='tok';e.textContent=shown(s);e.dataset.i=i;
          e.title='token '+i;box.appendChild(e);spans.push(e);e.addEventListener('mouseenter',()=>showRow(i));});
        function w(q,k){const base=((+layerSel.value*H+ +headSel.value)*T+q)*T;return W[base+k]/255;}
        let current=-1;
        function showRow(q){current=q;const row=[];
          spans.forEach((e,k)=>{const v=k<T?w(q,k):0;e.dataset.w=v.toFixed(2);e.style.background=v>0?viridis(v):'';e.style.color=v>0?ink(v):'';
            e.classList.toggle('q',k===q);row.push([k,v]);});
          row.sort((a,b)=>b[1]-a[1]);
          panel.innerHTML='layer '+DATA.layers[+layerSel.value]+', head '+headSel.value+' — query '+q+' <b>'+esc(shown(DATA.tokens[q]))+'</b> attends to: '+
            row.slice(0,5).filter(r=>r[1]>0).map(r=>'<span class="key" data-k="'+r[0]+'">'+r[0]+' <b>'+esc(shown(DATA.tokens[r[0]]))+'</b> '+r[1].toFixed(2)+'</span>').join(', ');}
        const canvas=document.getElementById('map'),ctx=canvas.getContext('2d'),cell=Math.max(1,Math.min(16,Math.floor(720/T)));
        canvas.width=canvas.height=T*cell;
        function draw(){for(let q=0;q<T;q++)for(let k=0;k<T;k++){ctx.fillStyle=viridis(w(q,k));ctx.fillRect(k*cell,q*cell,cell,cell);}
          if(current>=0)showRow(current);}
        canvas.addEventListener('mousemove',ev=>{const r=canvas.getBoundingClientRect(),q=Math.floor((ev.clientY-r.top)/cell),k=Math.floor((ev.clientX-r.left)/cell);
          if(q>=0&&q<T&&k>=0&&k<T){showRow(q);canvas.title='query '+q+' → key '+k+': '+w(q,k).toFixed(2);}});
        layerSel.addEventListener('change',draw);headSel.addEventListener('change',draw);
        draw();
        """;
}
