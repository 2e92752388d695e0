using System.Globalization;
using System.Text.Json;
using HeadWise.Analysis;
using HeadWise.Eval;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Bench;

/// <summary>
/// The Retrieval Head paper's causal check (Wu et al. 2024, Fig. 5) on the task it was made for: passkey accuracy with
/// the full cache, with the top-k heads of an atlas's <c>retrieval</c> score masked, and with k random heads masked,
/// over several seeded draws. By default as the paper's released needle_in_haystack_with_mask.py does it: a masked
/// head's query is zeroed (<see cref="QueryMask"/>: uniform attention), only while decoding (the prompt but its last
/// token is prefilled unmasked), and random heads are drawn from outside the paper's block list, i.e. from the heads
/// that are not retrieval heads (score below the paper's 0.1; its block list, the top 100 of 1,024 heads, holds every
/// head above 0.1 in its models). <c>--mask zero --phase all --pool all</c> is the stricter test this bench first ran:
/// each head's output zeroed on every token, random heads from all heads.
/// Usage: retrieval-mask --model M.gguf --atlas atlas.json [--k 4] [--draws 10] [--length 2016] [--samples 10]
///        [--task passkey] [--score retrieval] [--seed 1] [--mask query|zero] [--phase decode|all]
///        [--pool non-retrieval|all] [--json out.json] [--each: every head masked alone instead]
/// </summary>
public static class RetrievalMaskBench
{
    public sealed record Row(string What, IReadOnlyList<string> Heads, double Accuracy);

    /// <summary>The paper's retrieval heads score above this; random heads are drawn from below it (--pool non-retrieval).</summary>
    private const double RetrievalHeadThreshold = HeadWise.Training.HeadBehaviour.RetrievalThreshold;

    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        var model = ModelLoader.Load(Arg("--model", "models/testbed-gqa/model.gguf"));
        var atlas = HeadAtlas.Load(Arg("--atlas", "docs/testbed-gqa/atlas/atlas.json"));
        int k = int.Parse(Arg("--k", "4"), CultureInfo.InvariantCulture), draws = int.Parse(Arg("--draws", "10"), CultureInfo.InvariantCulture);
        int length = int.Parse(Arg("--length", "2016"), CultureInfo.InvariantCulture), samples = int.Parse(Arg("--samples", "10"), CultureInfo.InvariantCulture);
        int seed = int.Parse(Arg("--seed", "1"), CultureInfo.InvariantCulture);
        var task = TaskRegistry.Create(Arg("--task", "passkey"));
        var scoreName = Arg("--score", "retrieval");
        var scores = atlas[scoreName].Values;
        string maskName = Arg("--mask", "query"), phaseName = Arg("--phase", "decode"), poolName = Arg("--pool", "non-retrieval");
        var mask = maskName switch
        {
            "query" => (Func<int, int, IIntervention>)((l, h) => new QueryMask(l, h)),
            "zero" => (l, h) => HeadAblation.Zero(l, h),
            var other => throw new HeadWiseException($"--mask {other}: expected query or zero"),
        };
        var phase = phaseName switch
        {
            "decode" => HookPhase.Decode,
            "all" => HookPhase.Everywhere,
            var other => throw new HeadWiseException($"--phase {other}: expected decode or all"),
        };
        if (poolName is not ("non-retrieval" or "all")) throw new HeadWiseException($"--pool {poolName}: expected non-retrieval or all");
        var options = new TaskOptions { Lengths = [length], Depths = [0.1, 0.3, 0.5, 0.7, 0.9], Samples = samples, Seed = 1, HaystackPath = FindHaystack() };
        var full = new PolicyCacheFactory("full", KvBudget.All, CompressModes.Default);

        var all = Enumerable.Range(0, model.Spec.Layers).SelectMany(l => Enumerable.Range(0, model.Spec.Heads).Select(h => (Layer: l, Head: h))).ToList();
        var top = all.OrderByDescending(x => scores[x.Layer][x.Head]).ThenBy(x => x.Layer).ThenBy(x => x.Head).Take(k).ToList();
        var pool = poolName == "all" ? all : all.Where(x => scores[x.Layer][x.Head] < RetrievalHeadThreshold).ToList();
        if (pool.Count < k) throw new HeadWiseException($"only {pool.Count} heads score below {RetrievalHeadThreshold} ({scoreName}); cannot draw {k} random ones");
        double Accuracy(IReadOnlyList<(int Layer, int Head)> masked)
        {
            var hooks = new HookSet();
            foreach (var (l, h) in masked) hooks.Add(mask(l, h));
            return BenchRunner.Run(model, task, options, full, hooks: masked.Count == 0 ? null : hooks, hookPhase: phase).Accuracy;
        }
        static List<string> Names(IEnumerable<(int Layer, int Head)> heads) => [.. heads.Select(x => $"{x.Layer}.{x.Head}")];
        if (args.Contains("--each")) return EachHead(all, scores, scoreName, task.Name, length, Accuracy);

        var rows = new List<Row> { new("none", [], Accuracy([])) };
        Console.Error.WriteLine($"full: {rows[0].Accuracy:P1}");
        rows.Add(new($"top-{k} {scoreName}", Names(top), Accuracy(top)));
        Console.Error.WriteLine($"top-{k} {string.Join(",", rows[1].Heads)}: {rows[1].Accuracy:P1}");
        var rng = new Random(seed);
        for (int d = 0; d < draws; d++)
        {
            var pick = pool.OrderBy(_ => rng.Next()).Take(k).ToList();
            rows.Add(new($"random {d + 1}", Names(pick), Accuracy(pick)));
            Console.Error.WriteLine($"random {string.Join(",", rows[^1].Heads)}: {rows[^1].Accuracy:P1}");
        }
        double clean = rows[0].Accuracy, topDrop = clean - rows[1].Accuracy, randomDrop = clean - rows.Skip(2).Average(r => r.Accuracy);
        Console.WriteLine($"Masking: --mask {maskName} --phase {phaseName}; random heads from {(poolName == "all" ? "all heads" : $"the {pool.Count} heads scoring below {RetrievalHeadThreshold}")}.");
        Console.WriteLine();
        Console.WriteLine($"| heads masked | {task.Name} at {length} tokens |");
        Console.WriteLine("|---|---:|");
        Console.WriteLine($"| none | {clean:P0} |");
        Console.WriteLine($"| top-{k} `{scoreName}` ({string.Join(", ", rows[1].Heads)}) | {rows[1].Accuracy:P0} (drop {topDrop * 100:0} points) |");
        Console.WriteLine($"| {k} random heads, mean of {draws} draws | {rows.Skip(2).Average(r => r.Accuracy):P0} (drop {randomDrop * 100:0.#} points; " +
                          $"range {rows.Skip(2).Min(r => r.Accuracy):P0}-{rows.Skip(2).Max(r => r.Accuracy):P0}) |");
        if (Arg("--json", "") is { Length: > 0 } json)
            File.WriteAllText(json, JsonSerializer.Serialize(new { task = task.Name, length, samples_per_depth = samples, k, score = scoreName,
                mask = maskName, phase = phaseName, pool = poolName, rows },
                new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
        return 0;
    }

    /// <summary>--each: every head masked alone, to show which heads a model cannot lose (a random draw that holds one fails).</summary>
    private static int EachHead(List<(int Layer, int Head)> all, double[][] scores, string scoreName, string task, int length,
        Func<IReadOnlyList<(int Layer, int Head)>, double> accuracy)
    {
        double clean = accuracy([]);
        Console.WriteLine($"| head masked alone | `{scoreName}` | {task} at {length} tokens (none masked: {clean:P0}) |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var x in all)
        {
            double a = accuracy([x]);
            Console.WriteLine($"| {x.Layer}.{x.Head} | {scores[x.Layer][x.Head]:0.00} | {a:P0} |");
        }
        return 0;
    }

    private static string? FindHaystack()
    {
        for (var d = new DirectoryInfo(Environment.CurrentDirectory); d != null; d = d.Parent)
            if (Path.Combine(d.FullName, "shared", "data", "moby-dick.txt") is var p && File.Exists(p)) return p;
        return null;
    }
}
