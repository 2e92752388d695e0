using HeadWise.Analysis;
using System.Text.Json.Nodes;
using HeadWise.Models;

namespace HeadWise.KvCache;

/// <summary>
/// Per-head scores that policies read: an atlas file (<c>atlas.json</c>: {"model", "layers", "heads", "kv_heads",
/// "scores": {"name": [[per head] per layer]}, "params"}) or DuoAttention's <c>full_attention_heads.tsv</c>
/// (one line per layer, one tab-separated gate value per KV head), which reads as the score <c>duo-gate</c>.
/// </summary>
public sealed class HeadScores
{
    private readonly Dictionary<string, double[][]> _scores;
    private readonly Dictionary<string, JsonObject> _params;

    public HeadScores(string source, Dictionary<string, double[][]> scores, Dictionary<string, JsonObject>? parameters = null)
    {
        Source = source; _scores = scores; _params = parameters ?? [];
    }

    /// <summary>Where the scores came from (for messages).</summary>
    public string Source { get; }

    public IReadOnlyCollection<string> Names => _scores.Keys;

    /// <summary>The parameters score <paramref name="name"/> was computed with (e.g. duo-gate's streaming pattern), or null.</summary>
    public JsonObject? ParamsOf(string name) => _params.GetValueOrDefault(name);

    /// <summary>Reads an atlas.json (<see cref="HeadAtlas"/>) or a DuoAttention TSV (<see cref="DuoPattern"/>, as the score duo-gate).</summary>
    public static HeadScores Load(string path)
    {
        if (!File.Exists(path)) throw new HeadWiseException($"{path}: head scores file not found");
        if (path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase))
        {
            var pattern = DuoPattern.Read(path);
            return new HeadScores(path, new() { ["duo-gate"] = pattern.Gates },
                new() { ["duo-gate"] = new JsonObject { ["sinks"] = pattern.Sinks, ["recent"] = pattern.Recent } });
        }
        var atlas = HeadAtlas.Load(path);
        return new HeadScores(path, atlas.Scores,
            atlas.Scores.Keys.Where(k => atlas.Params[k] is JsonObject).ToDictionary(k => k, k => (JsonObject)atlas.Params[k]!));
    }

    /// <summary>
    /// Score <paramref name="name"/> per (layer, KV head) for <paramref name="spec"/>; query-head scores are reduced over
    /// each KV group with <paramref name="reduce"/>. <paramref name="user"/> names the policy asking (for the error).
    /// </summary>
    public double[][] PerKvHead(string name, ModelSpec spec, string user, Func<IEnumerable<double>, double>? reduce = null)
    {
        if (!_scores.TryGetValue(name, out var rows))
            throw new HeadWiseException($"{user} needs the head score {ErrorText.Quote(name)} but {Source} has only: {(_scores.Count == 0 ? "none" : string.Join(", ", _scores.Keys))}");
        int width = rows.Length > 0 ? rows[0].Length : 0;
        if (rows.Length != spec.Layers || rows.Any(r => r.Length != width) || (width != spec.KvHeads && width != spec.Heads))
            throw new HeadWiseException($"score {ErrorText.Quote(name)} in {Source} is {rows.Length} layers x {string.Join("/", rows.Select(r => r.Length).Distinct())} heads " +
                $"but the model has {spec.Layers} layers x {spec.Heads} heads ({spec.KvHeads} KV heads)");
        if (width == spec.KvHeads) return rows.Select(r => r.ToArray()).ToArray();
        reduce ??= Enumerable.Average;
        int g = spec.GroupSize;
        return rows.Select(r => Enumerable.Range(0, spec.KvHeads).Select(h => reduce(r.Skip(h * g).Take(g))).ToArray()).ToArray();
    }
}
