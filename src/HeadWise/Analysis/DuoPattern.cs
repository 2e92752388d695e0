using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HeadWise.Analysis;

/// <summary>
/// A DuoAttention pattern: the learned gate of every (layer, KV head) and the streaming pattern (attention sinks +
/// recent window) the gates were trained with, which deployment must use too. On disk it is DuoAttention's layout:
/// <c>full_attention_heads.tsv</c> (one line per layer, one tab-separated gate per KV head) with <c>config.json</c>
/// beside it (<c>sink_size</c>, <c>recent_size</c>, and here the training record); in an atlas, the <c>duo-gate</c>
/// map with <c>sinks</c> and <c>recent</c> among its parameters.
/// </summary>
public sealed record DuoPattern(double[][] Gates, int Sinks, int Recent)
{
    /// <summary>DuoAttention's streaming pattern (its code's defaults and its evaluation scripts: 64 sinks, 256 recent).</summary>
    public const int PaperSinks = 64, PaperRecent = 256;

    /// <summary>
    /// DuoAttention's target sparsity (share of KV heads that stream): 25 % of heads full for multi-head attention,
    /// 50 % for grouped-query attention, as its evaluations deploy Llama-2-7B-32K and the Llama-3/Mistral GQA models.
    /// </summary>
    public static double PaperSparsity(bool groupedQuery) => groupedQuery ? 0.5 : 0.75;

    public int Layers => Gates.Length;
    public int KvHeads => Gates[0].Length;

    /// <summary>
    /// Full-attention heads for a target <paramref name="sparsity"/> as DuoAttention picks them: the gates at or above
    /// their <paramref name="sparsity"/> quantile (linear interpolation) stay full. DuoAttention breaks ties with tiny
    /// random noise; here they break deterministically (the later head in layer-major order ranks higher), so the
    /// count is always n - ceil(sparsity (n - 1)).
    /// </summary>
    public bool[][] FullBySparsity(double sparsity)
    {
        if (!(sparsity is >= 0 and <= 1)) throw new HeadWiseException($"duo: sparsity must be in [0, 1], got {sparsity}");
        var order = Ranked();
        int n = order.Count;
        int streaming = sparsity >= 1 ? n : (int)Math.Ceiling(sparsity * (n - 1) - 1e-9);
        var full = Gates.Select(r => new bool[r.Length]).ToArray();
        foreach (var (l, h) in order.Skip(streaming)) full[l][h] = true;
        return full;
    }

    /// <summary>Full-attention heads by a fixed gate threshold (DuoAttention's alternative to a sparsity): gate >= threshold.</summary>
    public bool[][] FullByThreshold(double threshold) => Gates.Select(r => r.Select(g => g >= threshold).ToArray()).ToArray();

    /// <summary>(layer, KV head) from lowest to highest gate; ties: layer-major order.</summary>
    public List<(int Layer, int Head)> Ranked() =>
        Enumerable.Range(0, Layers).SelectMany(l => Enumerable.Range(0, KvHeads).Select(h => (l, h)))
            .OrderBy(p => Gates[p.l][p.h]).ThenBy(p => p.l).ThenBy(p => p.h).ToList();

    /// <summary>Writes <paramref name="tsv"/> and DuoAttention's <c>config.json</c> beside it (with <paramref name="training"/>, if any).</summary>
    public void Write(string tsv, JsonObject? training = null)
    {
        if (Gates.Length == 0 || Gates.Any(r => r.Length != Gates[0].Length || r.Length == 0))
            throw new HeadWiseException("a DuoAttention pattern needs the same non-zero number of KV heads in every layer");
        var config = ConfigPath(tsv);
        if (File.Exists(config) && !IsPatternConfig(config))
            throw new HeadWiseException($"{config} exists and is not a DuoAttention pattern config (no sink_size); write the pattern into a folder of its own");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(tsv))!); // a pattern goes in a folder of its own
        File.WriteAllLines(tsv, Gates.Select(r => string.Join('\t', r.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
        var o = new JsonObject { ["sink_size"] = Sinks, ["recent_size"] = Recent };
        if (training is not null) o["headwise_training"] = training.DeepClone();
        File.WriteAllText(config, o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>
    /// Reads a full_attention_heads.tsv and the streaming pattern from the <c>config.json</c> beside it; without one
    /// (a bare TSV) the pattern is DuoAttention's default, 64 sinks and 256 recent tokens.
    /// </summary>
    public static DuoPattern Read(string tsv)
    {
        var lines = Formats.BoundedFile.ReadAllLines(tsv, "DuoAttention pattern", Formats.FileLimits.PatternTsv).Where(l => l.Trim().Length > 0).ToArray();
        if (lines.Length == 0) throw new HeadWiseException($"{tsv}: empty; expected one line per layer of tab-separated gate values");
        var rows = new double[lines.Length][];
        for (int i = 0; i < lines.Length; i++)
        {
            var cells = lines[i].Trim().Split('\t');
            rows[i] = new double[cells.Length];
            for (int j = 0; j < cells.Length; j++)
                if (!double.TryParse(cells[j], NumberStyles.Float, CultureInfo.InvariantCulture, out rows[i][j]) || !double.IsFinite(rows[i][j]))
                    throw new HeadWiseException($"{tsv}: line {i + 1}, column {j + 1}: {ErrorText.Quote(cells[j])} is not a number");
            if (rows[i].Length != rows[0].Length)
                throw new HeadWiseException($"{tsv}: line {i + 1} has {rows[i].Length} values but line 1 has {rows[0].Length} (one per KV head)");
        }
        // DuoAttention clips gates to [0, 1] when it loads a pattern.
        rows = rows.Select(r => r.Select(v => Math.Clamp(v, 0, 1)).ToArray()).ToArray();
        var config = ConfigPath(tsv);
        if (!File.Exists(config) || !IsPatternConfig(config)) return new DuoPattern(rows, PaperSinks, PaperRecent);
        var o = (JsonObject)JsonNode.Parse(ReadConfig(config))!;
        return new DuoPattern(rows, Positive(o, "sink_size", config, allowZero: true), Positive(o, "recent_size", config, allowZero: false));
    }

    /// <summary>The atlas's duo-gate map folded to KV heads (the first query head of each group) and its pattern params.</summary>
    public static DuoPattern FromAtlas(HeadAtlas atlas)
    {
        var map = atlas["duo-gate"];
        int group = atlas.Heads / atlas.KvHeads;
        var gates = map.Values.Select(r => Enumerable.Range(0, atlas.KvHeads).Select(k => r[k * group]).ToArray()).ToArray();
        var (sinks, recent) = StreamingParams(map.Params);
        return new DuoPattern(gates, sinks, recent);
    }

    /// <summary>Sinks and recent tokens recorded with a duo-gate map (DuoAttention's defaults for a map that predates them).</summary>
    public static (int Sinks, int Recent) StreamingParams(JsonObject? p) =>
        (p?["sinks"] is JsonValue s && s.TryGetValue(out int si) ? si : PaperSinks,
         p?["recent"] is JsonValue r && r.TryGetValue(out int re) ? re : PaperRecent);

    /// <summary>Puts the gates into the atlas as the duo-gate map (repeated over each group's query heads), with the pattern.</summary>
    public void IntoAtlas(HeadAtlas atlas, string source)
    {
        if (Layers != atlas.Layers || KvHeads != atlas.KvHeads)
            throw new HeadWiseException($"{source}: {Layers} layers x {KvHeads} KV heads, but the model has {atlas.Layers} x {atlas.KvHeads}");
        int group = atlas.Heads / atlas.KvHeads;
        var values = Gates.Select(r => Enumerable.Range(0, atlas.Heads).Select(h => r[h / group]).ToArray()).ToArray();
        atlas.Add(new HeadMap("duo-gate", values, new JsonObject { ["imported_from"] = source, ["sinks"] = Sinks, ["recent"] = Recent }));
    }

    private static string ConfigPath(string tsv) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tsv))!, "config.json");

    private static bool IsPatternConfig(string path)
    {
        try { return JsonNode.Parse(ReadConfig(path)) is JsonObject o && o.ContainsKey("sink_size"); }
        catch (JsonException) { return false; }
    }

    private static string ReadConfig(string path) => Formats.BoundedFile.ReadAllText(path, "DuoAttention pattern config", Formats.FileLimits.JsonConfig);

    private static int Positive(JsonObject o, string key, string path, bool allowZero) =>
        o[key] is JsonValue v && v.TryGetValue(out int x) && (x > 0 || (allowZero && x == 0)) ? x
            : throw new HeadWiseException($"{path}: '{key}' must be an integer {(allowZero ? ">= 0" : ">= 1")}");
}
