using System.Globalization;
using System.Net;
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
    public static void Write(HeadAtlas atlas, string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var (name, values) in atlas.Scores) Heatmap(name, values, Path.Combine(dir, FileName(name)));
        bool curve = atlas.Params["duo-gate"]?["loss_curve"] is System.Text.Json.Nodes.JsonArray lossArr && lossArr.Count > 0;
        if (curve) LossCurve(atlas.Params["duo-gate"]!["loss_curve"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray(), Path.Combine(dir, "duo-gate-loss.png"));
        File.WriteAllText(Path.Combine(dir, "index.html"), Html(atlas, curve));
    }

    public static string FileName(string score) => $"{score}.png";

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

    private static string Html(HeadAtlas atlas, bool curve)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var sb = new StringBuilder();
        sb.Append($"<!doctype html><html><head><meta charset=\"utf-8\"><title>Head atlas: {E(atlas.Model)}</title><style>")
          .Append("body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{margin-bottom:4px}.meta{color:#555;margin-bottom:16px}")
          .Append(".grid{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;border-radius:6px;padding:8px;background:#fafafa}")
          .Append(".card img{max-width:380px;display:block}.card p{margin:4px 0 0;font-size:12px;color:#444;max-width:380px}")
          .Append("table{border-collapse:collapse;font-size:12px;margin-top:8px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}")
          .Append("th{background:#eee}</style></head><body>");
        sb.Append($"<h1>Head atlas: {E(atlas.Model)}</h1><div class=\"meta\">{atlas.Layers} layers, {atlas.Heads} heads, {atlas.KvHeads} KV heads; ")
          .Append($"seed {E(atlas.Params["seed"]?.ToJsonString() ?? "?")}, {E(atlas.Params["probe_documents"]?.ToJsonString() ?? "?")} probe documents of ")
          .Append($"{E(atlas.Params["probe_tokens"]?.ToJsonString() ?? "?")} tokens</div>");
        sb.Append("<div class=\"grid\">");
        foreach (var name in atlas.Scores.Keys)
        {
            var flat = atlas.Scores[name].SelectMany(r => r).ToArray();
            var top = atlas[name].Ranked().Take(3).Select(p => $"{p.Layer}.{p.Head}");
            sb.Append($"<div class=\"card\"><img src=\"{E(FileName(name))}\" alt=\"{E(name)}\"><p>range {flat.Min():g3} .. {flat.Max():g3}; top heads {E(string.Join(", ", top))}</p></div>");
        }
        if (curve) sb.Append("<div class=\"card\"><img src=\"duo-gate-loss.png\" alt=\"duo-gate loss\"><p>duo-gate loss per optimisation step</p></div>");
        sb.Append("</div>");
        if (atlas.Params["skipped"] is System.Text.Json.Nodes.JsonObject skipped && skipped.Count > 0)
        {
            sb.Append("<h2>Skipped</h2><ul>");
            foreach (var (k, v) in skipped) sb.Append($"<li><b>{E(k)}</b>: {E(v?.GetValue<string>() ?? "")}</li>");
            sb.Append("</ul>");
        }
        if (atlas.Scores.Count > 1)
        {
            var m = Agreement(atlas, out var names);
            sb.Append("<h2>Rank agreement (Spearman over all heads)</h2><table><tr><th></th>");
            foreach (var n in names) sb.Append($"<th>{E(n)}</th>");
            sb.Append("</tr>");
            for (int i = 0; i < names.Length; i++)
            {
                sb.Append($"<tr><th>{E(names[i])}</th>");
                for (int j = 0; j < names.Length; j++)
                {
                    double v = m[i, j];
                    string bg = double.IsNaN(v) ? "#fff" : v >= 0 ? $"rgba(40,120,220,{Math.Abs(v) * 0.6:F2})" : $"rgba(220,60,40,{Math.Abs(v) * 0.6:F2})";
                    sb.Append($"<td style=\"background:{bg}\">{(double.IsNaN(v) ? "–" : v.ToString("F2", CultureInfo.InvariantCulture))}</td>");
                }
                sb.Append("</tr>");
            }
            sb.Append("</table><p style=\"font-size:12px;color:#555\">– : a score is constant over heads, so its ranks carry no order.</p>");
        }
        sb.Append("</body></html>");
        return sb.ToString();
    }
}
