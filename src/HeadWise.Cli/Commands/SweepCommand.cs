using System.CommandLine;
using HeadWise.Eval;
using HeadWise.Models;
using HeadWise.Reports;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise sweep`: policies x budgets for one task, resumable, with plots and an HTML index.</summary>
internal static class SweepCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var load = new LoadOptionSet();
        var eval = new EvalOptions();
        var policies = new Option<string>("--policies") { Description = "KV-cache policies, comma-separated", DefaultValueFactory = _ => "full" };
        var budgets = new Option<string>("--budgets") { Description = "Budgets, comma-separated (ratios or token counts)", DefaultValueFactory = _ => "1.0" };
        var outDir = new Option<string>("--out") { Description = "Output folder (results.json, timings.json, PNGs, index.html; cells/ for resuming)", Required = true };
        var atlas = new Option<string?>("--atlas") { Description = "Head scores for headkv/duo/taskkv: atlas.json, or DuoAttention's full_attention_heads.tsv" };
        var parameters = new Option<string[]>("--kv-params")
        {
            Description = "One policy's parameters, POLICY:key=value,... (repeat for several policies), e.g. delta:full=1,select=1",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("sweep", "Run a task over policies x budgets, resuming finished cells, and draw the curves") { model, policies, budgets, atlas, parameters, outDir };
        foreach (var o in load.All) command.Options.Add(o);
        foreach (var o in eval.All) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() =>
        {
            var plan = new SweepPlan(r.GetValue(eval.Task)!, Split(r.GetValue(policies)!), Split(r.GetValue(budgets)!), eval.Read(r), r.GetValue(atlas),
                PolicyParameters(r.GetValue(parameters) ?? []));
            TaskRegistry.Create(plan.Task);
            SweepRunner.Cells(plan); // names and budgets checked before the model loads
            using var m = ModelLoader.Load(CommonOptions.ResolveModel(r.GetValue(model)!), load.Get(r));
            var dir = r.GetValue(outDir)!;
            IReadOnlyList<BenchResult> results = [];
            var bar = new ProgressBar("sweep");
            results = SweepRunner.Run(m, plan, dir, (done, total, key) => bar.Report(done, total, key));
            var files = SweepReport.Write(results, dir);
            foreach (var x in results) Console.WriteLine($"{x.Policy,-12} {x.Budget,-6} accuracy {x.Accuracy * 100,5:F1}%  KV {x.KvBytes / 1048576.0:F3} MiB");
            Console.WriteLine($"wrote {Path.Combine(dir, "results.json")}, {string.Join(", ", files)}, index.html");
            return 0;
        }));
        return command;
    }

    /// <summary>"delta:full=1,select=1" → delta → "full=1,select=1"; a policy named twice or without a colon is an error.</summary>
    private static Dictionary<string, string>? PolicyParameters(string[] entries)
    {
        if (entries.Length == 0) return null;
        var result = new Dictionary<string, string>();
        foreach (var e in entries)
        {
            int colon = e.IndexOf(':');
            if (colon <= 0) throw new HeadWiseException($"--kv-params '{e}': expected POLICY:key=value,... (e.g. delta:full=1)");
            var policy = e[..colon].Trim();
            if (!result.TryAdd(policy, e[(colon + 1)..].Trim())) throw new HeadWiseException($"--kv-params: policy '{policy}' is given twice");
        }
        return result;
    }

    private static List<string> Split(string s) => [.. s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
