using System.Globalization;
using System.Text;
using HeadWise.Analysis;
using ScottPlot;

namespace HeadWise.Reports;

/// <summary>
/// Draws an atlas: one PNG heatmap per score (layers down, heads across), the duo-gate loss curve when present, and
/// index.html with the heatmaps side by side, the skipped scores, and a table of rank agreement (Spearman) between scores.
/// </summary>
public static class AtlasReport
{
    /// <summary>Writes the PNGs, atlas.csv and index.html of <paramref name="atlas"/> into <paramref name="dir"/>.</summary>
    public static void Write(HeadAtlas atlas, string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var (name, values) in atlas.Scores) Heatmap(name, values, Path.Combine(dir, FileName(name)));
        bool curve = atlas.Params["duo-gate"]?["loss_curve"] is System.Text.Json.Nodes.JsonArray lossArr && lossArr.Count > 0;
        if (curve) LossCurve(atlas.Params["duo-gate"]!["loss_curve"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray(), Path.Combine(dir, "duo-gate-loss.png"));
        WriteHtml(atlas, Path.Combine(dir, "index.html"), curve);
        WriteCsv(atlas, Path.Combine(dir, "atlas.csv"));
    }

    /// <summary>atlas.csv: one row per head (layer, head, kv_head) and one column per map, for <c>pandas.read_csv</c>.</summary>
    public static void WriteCsv(HeadAtlas atlas, string path)
    {
        var names = atlas.Scores.Keys.ToArray();
        var sb = new StringBuilder("layer,head,kv_head");
        foreach (var n in names) sb.Append(',').Append(n.Contains(',') || n.Contains('"') ? $"\"{n.Replace("\"", "\"\"")}\"" : n);
        sb.Append('\n');
        int group = Math.Max(1, atlas.Heads / Math.Max(1, atlas.KvHeads));
        for (int l = 0; l < atlas.Layers; l++)
            for (int h = 0; h < atlas.Heads; h++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{l},{h},{h / group}");
                foreach (var n in names)
                {
                    double v = atlas.Scores[n][l][h];
                    sb.Append(',').Append(double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "");
                }
                sb.Append('\n');
            }
        File.WriteAllText(path, sb.ToString());
    }

    /// <summary>The PNG file name of a map.</summary>
    public static string FileName(string score) => $"{score}.png";

    /// <summary>One map as a PNG heatmap (layers down, heads across).</summary>
    public static void Heatmap(string name, double[][] values, string path)
    {
        int layers = values.Length, heads = values[0].Length;
        var data = new double[layers, heads];
        for (int l = 0; l < layers; l++) for (int h = 0; h < heads; h++) data[l, h] = values[l][h];
        var plt = new Plot();
        var hm = plt.Add.Heatmap(data);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        plt.Add.ColorBar(hm);
        plt.Title(name);
        plt.XLabel("head");
        plt.YLabel("layer");
        plt.Axes.Bottom.TickGenerator = Ticks(heads, i => i);
        plt.Axes.Left.TickGenerator = Ticks(layers, i => layers - 1 - i); // row 0 (layer 0) is drawn at the top
        plt.SavePng(path, 420 + 12 * heads, 300 + 10 * layers);
    }

    /// <summary>The duo-gate optimisation loss as a PNG.</summary>
    public static void LossCurve(double[] loss, string path)
    {
        var plt = new Plot();
        plt.Add.Scatter(Enumerable.Range(1, loss.Length).Select(i => (double)i).ToArray(), loss);
        plt.Title("duo-gate optimisation");
        plt.XLabel("step");
        plt.YLabel("loss (hidden-state MSE + L1)");
        plt.SavePng(path, 600, 400);
    }

    private static ScottPlot.TickGenerators.NumericManual Ticks(int n, Func<int, int> label)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        int step = Math.Max(1, n / 16);
        for (int i = 0; i < n; i += step) ticks.AddMajor(i, label(i).ToString(CultureInfo.InvariantCulture));
        return ticks;
    }

    /// <summary>Spearman between every pair of scores over all heads.</summary>
    public static double[,] Agreement(HeadAtlas atlas, out string[] names)
    {
        names = atlas.Scores.Keys.ToArray();
        var flat = names.Select(n => atlas.Scores[n].SelectMany(r => r).ToArray()).ToArray();
        var m = new double[names.Length, names.Length];
        for (int i = 0; i < names.Length; i++)
            for (int j = 0; j < names.Length; j++)
                m[i, j] = i == j ? 1 : RankAgreement.Spearman(flat[i], flat[j]);
        return m;
    }

    /// <summary>
    /// index.html: one grid per map (layers down, heads across); hovering a head shows all its scores with their ranks;
    /// each map name links to its definition and paper (<see cref="ScoreGlossary"/>); the skipped scores and the rank
    /// agreement close the page. Self-contained (data embedded).
    /// </summary>
    public static void WriteHtml(HeadAtlas atlas, string path, bool curve)
    {
        var names = atlas.Scores.Keys.ToArray();
        var agreement = names.Length > 1 ? Agreement(atlas, out _) : null;
        var skipped = atlas.Params["skipped"] is System.Text.Json.Nodes.JsonObject sk
            ? sk.ToDictionary(p => p.Key, p => p.Value?.GetValue<string>() ?? "") : new Dictionary<string, string>();
        var data = new
        {
            model = atlas.Model, layers = atlas.Layers, heads = atlas.Heads, kv_heads = atlas.KvHeads,
            maps = names.Select(n => new { name = n, values = atlas.Scores[n].Select(r => r.Select(v => double.IsFinite(v) ? (double?)v : null).ToArray()) }),
            glossary = names.Concat(skipped.Keys).Distinct().Select(ScoreGlossary.For),
            skipped,
            agreement = agreement is null ? null : Enumerable.Range(0, names.Length).Select(i => Enumerable.Range(0, names.Length)
                .Select(j => double.IsNaN(agreement[i, j]) ? (double?)null : Math.Round(agreement[i, j], 3)).ToArray()),
        };
        static string E(string s) => HtmlPage.E(s);
        var body = new StringBuilder()
            .Append($"<h1>Head atlas: {E(atlas.Model)}</h1><div class=\"meta\">{atlas.Layers} layers, {atlas.Heads} heads, {atlas.KvHeads} KV heads; ")
            .Append($"seed {E(atlas.Params["seed"]?.ToJsonString() ?? "?")}, {E(atlas.Params["probe_documents"]?.ToJsonString() ?? "?")} probe documents of ")
            .Append($"{E(atlas.Params["probe_tokens"]?.ToJsonString() ?? "?")} tokens. Hover a head to see all its scores; a map's name links to its definition.</div>")
            .Append("<div class=\"panel\" id=\"head\">hover a head in any map</div><div id=\"maps\"></div>")
            .Append(curve ? "<h2>duo-gate optimisation</h2><img alt=\"duo-gate loss per step\" style=\"max-width:600px\" src=\"data:image/png;base64," +
                Convert.ToBase64String(File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "duo-gate-loss.png"))) + "\">" : "")
            .Append("<h2>What the maps are</h2><dl id=\"glossary\"></dl><div id=\"skipped\"></div><div id=\"agreement\"></div>");
        HtmlPage.Write(path, $"Head atlas: {atlas.Model}", body.ToString(), data, AtlasScript, AtlasCss);
    }

    private const string AtlasCss =
        "#maps{display:flex;flex-wrap:wrap;gap:14px}.card{border:1px solid #ddd;border-radius:6px;padding:8px;background:#fafafa}" +
        ".card h3{margin:0 0 4px;font-size:15px}.grid td{width:18px;height:16px;padding:0;border:1px solid #fff;cursor:pointer}" +
        ".grid td.sel{outline:2px solid #e01b24}.grid th{font-weight:normal;color:#555;background:none;border:none;padding:0 3px}" +
        "dt{font-weight:bold;margin-top:8px}dd{margin:2px 0 0 16px}.range{font-size:11px;color:#555}";

    private const string AtlasScript = """
        const L=DATA.layers,H=DATA.heads,maps=DATA.maps,gloss={};DATA.glossary.forEach(g=>gloss[g.map]=g);
        const panel=document.getElementById('head'),host=document.getElementById('maps');
        function stats(m){const f=m.values.flat().filter(v=>v!==null&&isFinite(v));return [Math.min(...f),Math.max(...f)];}
        function rank(m,l,h){const v=m.values[l][h];return m.values.flat().filter(x=>x>v).length+1;}
        maps.forEach(m=>{const [lo,hi]=stats(m),card=document.createElement('div');card.className='card';
          let html='<h3><a href="#def-'+esc(m.name)+'">'+esc(m.name)+'</a></h3><table class="grid"><tr><th></th>';
          for(let h=0;h<H;h++)html+='<th>'+h+'</th>';html+='</tr>';
          for(let l=0;l<L;l++){html+='<tr><th>'+l+'</th>';for(let h=0;h<H;h++){const v=m.values[l][h],t=hi>lo?(v-lo)/(hi-lo):0.5;
            html+='<td data-l="'+l+'" data-h="'+h+'" style="background:'+viridis(t)+'" title="'+esc(m.name)+' '+l+'.'+h+': '+fmt(v)+'"></td>';}html+='</tr>';}
          html+='</table><div class="range">'+fmt(lo)+' … '+fmt(hi)+' (layers down, heads across)</div>';card.innerHTML=html;host.appendChild(card);});
        host.addEventListener('mouseover',ev=>{const td=ev.target.closest('td[data-l]');if(!td)return;const l=+td.dataset.l,h=+td.dataset.h;
          document.querySelectorAll('td.sel').forEach(e=>e.classList.remove('sel'));
          document.querySelectorAll('td[data-l="'+l+'"][data-h="'+h+'"]').forEach(e=>e.classList.add('sel'));
          panel.innerHTML='<b>head '+l+'.'+h+'</b> '+maps.map(m=>'<span class="score" data-map="'+esc(m.name)+'"><a href="#def-'+esc(m.name)+'">'+esc(m.name)+
            '</a> '+fmt(m.values[l][h])+' <small>(#'+rank(m,l,h)+')</small></span>').join(' · ');});
        const dl=document.getElementById('glossary');
        DATA.glossary.forEach(g=>{dl.insertAdjacentHTML('beforeend','<dt id="def-'+esc(g.map)+'">'+esc(g.map)+' <small>(score '+esc(g.score)+')</small></dt><dd>'+
          esc(g.definition)+(g.url?' — <a href="'+esc(g.url)+'">'+esc(g.paper)+'</a>':'')+'</dd>');});
        const sk=Object.entries(DATA.skipped);
        if(sk.length)document.getElementById('skipped').innerHTML='<h2>Skipped</h2><ul>'+sk.map(([k,v])=>'<li><a href="#def-'+esc(k)+'">'+esc(k)+'</a>: '+esc(v)+'</li>').join('')+'</ul>';
        if(DATA.agreement){let t='<h2>Rank agreement (Spearman over all heads)</h2><table><tr><th></th>'+maps.map(m=>'<th>'+esc(m.name)+'</th>').join('')+'</tr>';
          DATA.agreement.forEach((row,i)=>{t+='<tr><th>'+esc(maps[i].name)+'</th>'+row.map(v=>'<td style="background:'+(v===null?'#fff':v>=0?'rgba(40,120,220,'+(Math.abs(v)*0.6).toFixed(2)+')':'rgba(220,60,40,'+(Math.abs(v)*0.6).toFixed(2)+')')+'">'+(v===null?'–':v.toFixed(2))+'</td>').join('')+'</tr>';});
          document.getElementById('agreement').innerHTML=t+'</table><p class="note">– : a score is constant over heads, so its ranks carry no order.</p>';}
        """;
}
