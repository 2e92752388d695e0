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
/// the full cache, with the top-k heads of an atlas's <c>retrieval</c> score zero-ablated, and with k random heads
/// (drawn from all heads, seeded) zero-ablated, over several draws.
/// Usage: retrieval-mask --model M.gguf --atlas atlas.json [--k 4] [--draws 10] [--length 2016] [--samples 10]
///        [--task passkey] [--score retrieval] [--seed 1] [--json out.json]
/// </summary>
public static class RetrievalMaskBench
{
    public sealed record Row(string What, IReadOnlyList<string> Heads, double Accuracy);

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
        var options = new TaskOptions { Lengths = [length], Depths = [0.1, 0.3, 0.5, 0.7, 0.9], Samples = samples, Seed = 1, HaystackPath = FindHaystack() };
        var full = new PolicyCacheFactory("full", KvBudget.All, CompressModes.Default);

        var all = Enumerable.Range(0, model.Spec.Layers).SelectMany(l => Enumerable.Range(0, model.Spec.Heads).Select(h => (Layer: l, Head: h))).ToList();
        var top = all.OrderByDescending(x => scores[x.Layer][x.Head]).ThenBy(x => x.Layer).ThenBy(x => x.Head).Take(k).ToList();
        double Accuracy(IReadOnlyList<(int Layer, int Head)> masked)
        {
            var hooks = new HookSet();
            foreach (var (l, h) in masked) hooks.Add(HeadAblation.Zero(l, h));
            return BenchRunner.Run(model, task, options, full, hooks: masked.Count == 0 ? null : hooks).Accuracy;
        }
        static List<string> Names(IEnumerable<(int Layer, int Head)> heads) => [.. heads.Select(x => $"{x.Layer}.{x.Head}")];

        var rows = new List<Row> { new("none", [], Accuracy([])) };
        Console.Error.WriteLine($"full: {rows[0].Accuracy:P1}");
        rows.Add(new($"top-{k} {scoreName}", Names(top), Accuracy(top)));
        Console.Error.WriteLine($"top-{k} {string.Join(",", rows[1].Heads)}: {rows[1].Accuracy:P1}");
        var rng = new Random(seed);
        for (int d = 0; d < draws; d++)
        {
            var pick = all.OrderBy(_ => rng.Next()).Take(k).ToList();
            rows.Add(new($"random {d + 1}", Names(pick), Accuracy(pick)));
            Console.Error.WriteLine($"random {string.Join(",", rows[^1].Heads)}: {rows[^1].Accuracy:P1}");
        }
        double clean = rows[0].Accuracy, topDrop = clean - rows[1].Accuracy, randomDrop = clean - rows.Skip(2).Average(r => r.Accuracy);
        Console.WriteLine($"| heads masked | {task.Name} at {length} tokens |");
        Console.WriteLine("|---|---:|");
        Console.WriteLine($"| none | {clean:P0} |");
        Console.WriteLine($"| top-{k} `{scoreName}` ({string.Join(", ", rows[1].Heads)}) | {rows[1].Accuracy:P0} (drop {topDrop * 100:0} points) |");
        Console.WriteLine($"| {k} random heads, mean of {draws} draws | {rows.Skip(2).Average(r => r.Accuracy):P0} (drop {randomDrop * 100:0.#} points; " +
                          $"range {rows.Skip(2).Min(r => r.Accuracy):P0}-{rows.Skip(2).Max(r => r.Accuracy):P0}) |");
        if (Arg("--json", "") is { Length: > 0 } json)
            File.WriteAllText(json, JsonSerializer.Serialize(new { task = task.Name, length, samples_per_depth = samples, k, score = scoreName, rows },
                new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
        return 0;
    }

    private static string? FindHaystack()
    {
        for (var d = new DirectoryInfo(Environment.CurrentDirectory); d != null; d = d.Parent)
            if (Path.Combine(d.FullName, "shared", "data", "moby-dick.txt") is var p && File.Exists(p)) return p;
        return null;
    }
}
