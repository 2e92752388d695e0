using System.Globalization;
using System.Text.Json;
using HeadWise.Analysis;
using HeadWise.Models;

namespace HeadWise.Bench;

/// <summary>
/// Issue 17's bf16 atlas check: every atlas score of a model profiled in float32 and in bf16 (same probes, same seed),
/// and each score's Spearman rank correlation over all heads between the two. Two controls in the same run: float32
/// again with the same seed (must be 1.0: the profile is deterministic) and float32 with another seed (how much a
/// score's ranking moves with its own random draws, e.g. duo-gate's training data; bf16 cannot be expected to agree
/// better than that). Usage: atlas-dtype [--model M] [--scores a,b] [--score-params S:k=v ...] [--seed 0]
/// [--other-seed 1] [--docs 4] [--tokens 128] [--json out.json]. Defaults are `headwise profile`'s.
/// </summary>
public static class AtlasDtypeBench
{
    public sealed record Row(string Score, double Bf16, double SameSeedF32, double OtherSeedF32);

    public static int Run(string[] args)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var path = Arg("--model") ?? Path.Combine(FindShared(), "models", "stories260K", "stories260K.gguf");
        int seed = int.Parse(Arg("--seed") ?? "0", CultureInfo.InvariantCulture), other = int.Parse(Arg("--other-seed") ?? "1", CultureInfo.InvariantCulture);
        int docs = int.Parse(Arg("--docs") ?? "4", CultureInfo.InvariantCulture), tokens = int.Parse(Arg("--tokens") ?? "128", CultureInfo.InvariantCulture);
        var parameters = args.Select((a, i) => (a, i)).Where(x => x.a == "--score-params" && x.i + 1 < args.Length)
            .Select(x => args[x.i + 1].Split(':', 2)).ToDictionary(p => p[0], p => p[1]);

        HeadAtlas Profile(ComputeDType dtype, int s)
        {
            using var m = ModelLoader.Load(path, new LoadOptions { DType = dtype });
            int textTokens = m.Tokenizer.Encode(ProbeSet.DefaultText, addBos: false).Count;
            int length = Math.Min(Math.Min(tokens, m.Spec.ContextLength), Math.Max(8, textTokens / 2));   // as `headwise profile`
            var probes = ProbeSet.FromText(ProbeSet.DefaultText, m.Tokenizer, docs, length);
            var started = DateTime.UtcNow;
            using var ctx = new ProfileContext(m.Transformer, m.Tokenizer, probes, s, progress: p => Console.Error.WriteLine($"  {dtype.Name()} seed {s}: {p}"));
            var atlas = HeadProfiler.Profile(ctx, ScoreRegistry.Parse(Arg("--scores"), parameters), m.DisplayName);
            Console.Error.WriteLine($"{dtype.Name()} seed {s}: {(DateTime.UtcNow - started).TotalMinutes:F1} min");
            return atlas;
        }

        var f32 = Profile(ComputeDType.F32, seed);
        double Rho(HeadAtlas a, string name)
        {
            var x = f32[name].Flat().ToList();
            var y = a[name].Flat().ToList();
            return x.Distinct().Count() == 1 && y.Distinct().Count() == 1 ? (x.SequenceEqual(y) ? 1 : double.NaN) : RankAgreement.Spearman(x, y);
        }
        // Each comparison is printed as soon as its profile is done (duo-gate's training takes most of the time).
        Dictionary<string, double> Against(string what, HeadAtlas a)
        {
            var rho = f32.Scores.Keys.ToDictionary(n => n, n => Rho(a, n));
            Console.WriteLine($"{path}: Spearman of {what} against float32 seed {seed}: " + string.Join(", ", rho.Select(kv => $"{kv.Key} {kv.Value:F3}")));
            return rho;
        }
        var bf16 = Against("bf16 seed " + seed, Profile(ComputeDType.BF16, seed));
        var again = Against("float32 seed " + seed + " again", Profile(ComputeDType.F32, seed));
        var otherSeed = Against("float32 seed " + other, Profile(ComputeDType.F32, other));
        var rows = f32.Scores.Keys.Select(n => new Row(n, bf16[n], again[n], otherSeed[n])).ToList();
        Console.WriteLine($"{"score",-22} {"bf16",8} {"f32 same seed",14} {"f32 seed " + other,14}");
        foreach (var r in rows) Console.WriteLine($"{r.Score,-22} {r.Bf16,8:F3} {r.SameSeedF32,14:F3} {r.OtherSeedF32,14:F3}");
        if (Arg("--json") is { } json) File.WriteAllText(json, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        return rows.All(r => r.Bf16 >= 0.95 || double.IsNaN(r.Bf16)) ? 0 : 1;
    }

    private static string FindShared()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "..", "shared", "models"))) return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
        throw new HeadWiseException("../shared/models not found beside the repository (pass --model)");
    }
}
