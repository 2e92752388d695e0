using System.Globalization;
using System.Text.Json;
using HeadWise.Analysis;

namespace HeadWise.Bench;

/// <summary>
/// Whether an atlas score and a trained model's head census (the card's per-head retrieval rate, measured by
/// <c>train</c> on its own held-out needles) pick the same retrieval heads: Spearman over all heads, and each side's top 6.
/// Usage: retrieval-agreement --atlas atlas.json --card model-card.json [--score retrieval]
/// </summary>
public static class RetrievalAgreementBench
{
    public static int Run(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        var atlas = HeadAtlas.Load(Arg("--atlas", "docs/testbed-gqa/atlas/atlas.json"));
        var scoreName = Arg("--score", "retrieval");
        var grid = atlas[scoreName].Values;
        using var card = JsonDocument.Parse(File.ReadAllText(Arg("--card", "models/testbed-gqa/model-card.json")));
        var census = card.RootElement.GetProperty("heads").EnumerateArray()
            .Select(h => (Layer: h.GetProperty("layer").GetInt32(), Head: h.GetProperty("head").GetInt32(), Retrieval: h.GetProperty("retrieval").GetDouble()))
            .OrderBy(h => h.Layer).ThenBy(h => h.Head).ToList();
        var fromAtlas = census.Select(h => grid[h.Layer][h.Head]).ToList();
        var fromCard = census.Select(h => h.Retrieval).ToList();
        double rho = RankAgreement.Spearman(fromAtlas, fromCard);
        string Top(IReadOnlyList<double> v) => string.Join(", ", census.Zip(v).OrderByDescending(t => t.Second).Take(6).Select(t => $"{t.First.Layer}.{t.First.Head}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Spearman (atlas `{scoreName}` against the card's census retrieval) over {census.Count} heads: {rho:F3}"));
        Console.WriteLine($"atlas top 6: {Top(fromAtlas)}; census top 6: {Top(fromCard)}");
        return 0;
    }
}
