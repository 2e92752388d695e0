using System.CommandLine;
using HeadWise.Eval;
using HeadWise.KvCache;
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
        var steer = new SteerOptions();
        var prefill = new PrefillOptions();
        var policies = new Option<string>("--policies") { Description = "KV-cache policies, comma-separated", DefaultValueFactory = _ => "full" };
        var budgets = new Option<string>("--budgets") { Description = $"Budgets, comma-separated: ratios in (0, 1] or token counts; {KvOptions.RatioMeaning}", DefaultValueFactory = _ => "1.0" };
        var ratios = new Option<string?>("--compression-ratios") { Description = "kvpress's compression ratios (1 - budget), comma-separated, each in [0, 1) (instead of --budgets)" };
        var compress = KvOptions.CompressOption();
        var outDir = new Option<string>("--out") { Description = "Output folder (results.json, timings.json, PNGs, index.html; cells/ for resuming)", Required = true };
        var atlas = new Option<string?>("--atlas") { Description = "Head scores for headkv/duo/taskkv: atlas.json, or DuoAttention's full_attention_heads.tsv" };
        var parameters = new Option<string[]>("--kv-params")
        {
            Description = KvOptions.ParamsHelp("one policy's as POLICY:key=value,... (repeat for several policies), e.g. delta:full=1,every=2"),
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("sweep", "Run a task over policies x budgets, resuming finished cells, and draw the curves") { model, policies, budgets, ratios, compress, atlas, parameters, outDir };
        foreach (var o in load.All) command.Options.Add(o);
        foreach (var o in eval.All.Concat(steer.All).Concat(prefill.All)) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() =>
        {
            var task = TaskRegistry.Create(r.GetValue(eval.Task)!);
            var plan = new SweepPlan(task.Name, Split(r.GetValue(policies)!), Budgets(r, budgets, ratios), eval.Read(r), r.GetValue(atlas),
                PolicyParameters(r.GetValue(parameters) ?? []), KvOptions.ReadCompress(r, compress, task), r.GetValue(steer.Steer),
                prefill.Read(r)?.Name, r.GetValue(prefill.Params));
            SweepRunner.Cells(plan); // names and budgets checked before the model loads
            if (plan.Prefill is not null && plan.Policies.Any(p => p != "full"))
                throw new HeadWiseException($"--prefill {plan.Prefill} runs with the full cache; it is not combined with --policies {string.Join(",", plan.Policies.Where(p => p != "full"))}");
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

    /// <summary>"delta:full=1,every=2" → delta → "full=1,every=2"; a policy named twice or without a colon is an error.</summary>
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

    /// <summary>--budgets, or --compression-ratios as 1 - R (not both).</summary>
    private static List<string> Budgets(ParseResult r, Option<string> budgets, Option<string?> ratios)
    {
        if (r.GetValue(ratios) is not { } text) return Split(r.GetValue(budgets)!);
        if (r.GetResult(budgets) is { Implicit: false }) throw new HeadWiseException("give --budgets or --compression-ratios, not both");
        return [.. Split(text).Select(x => double.TryParse(x, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? KvBudget.FromCompressionRatio(v).Text
            : throw new HeadWiseException($"--compression-ratios '{x}' is not a number; give fractions removed in [0, 1), e.g. 0.75"))];
    }

    private static List<string> Split(string s) => [.. s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
