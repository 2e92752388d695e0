using System.Net;
using System.Text;
using HeadWise.Eval;

namespace HeadWise.Reports;

/// <summary>Draws a sweep's plots and writes DIR/index.html linking them with a table of every cell.</summary>
public static class SweepReport
{
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
        var h = new StringBuilder();
        var r0 = results[0];
        string E(string s) => WebUtility.HtmlEncode(s);
        h.Append($"<!doctype html><html><head><meta charset=\"utf-8\"><title>{E(r0.Model)} · {E(r0.Task)}</title>");
        h.Append("<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;text-align:right}img{max-width:900px;display:block;margin:1em 0}</style></head><body>");
        h.Append($"<h1>{E(r0.Model)} · {E(r0.Task)}</h1><p>lengths {E(string.Join(", ", r0.Lengths))}; samples {r0.Samples}; seed {r0.Seed}. ");
        h.Append("Raw numbers: <a href=\"results.json\">results.json</a>, <a href=\"timings.json\">timings.json</a>.</p>");
        h.Append("<table><tr><th>policy</th><th>budget</th><th>accuracy %</th><th>KV MiB</th><th>full KV MiB</th><th>kept %</th></tr>");
        foreach (var r in results)
            h.Append($"<tr><td>{E(r.Policy)}</td><td>{E(r.Budget)}</td><td>{r.Accuracy * 100:F1}</td><td>{r.KvBytes / 1048576.0:F3}</td><td>{r.KvBytesFull / 1048576.0:F3}</td><td>{100.0 * r.KvBytes / Math.Max(1, r.KvBytesFull):F0}</td></tr>");
        h.Append("</table>");
        foreach (var f in files) h.Append($"<img src=\"{E(f)}\" alt=\"{E(f)}\">");
        h.Append("</body></html>");
        File.WriteAllText(Path.Combine(dir, "index.html"), h.ToString());
        return files;
    }

    private static string Safe(string s) => string.Concat(s.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' ? c : '_'));
}
