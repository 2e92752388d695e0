using System.Text.Json;
using System.Text.Json.Serialization;

namespace HeadWise.Eval;

/// <summary>Scores of one grid group (a length, a depth, or a length x depth cell).</summary>
public sealed record GroupScore(int Samples, double Accuracy, long KvBytes, long KvBytesFull);

/// <summary>One (length, depth) cell of the grid, for heatmaps.</summary>
public sealed record GridCell(int Length, double? Depth, int Samples, double Accuracy);

/// <summary>What the model answered to one prompt of an answer task (passkey, niah, multikey), and its score.</summary>
public sealed record PromptAnswer(int Length, double? Depth, string Expected, string Output, double Score);

/// <summary>
/// What `headwise bench` measures for (model, task, policy, budget). Everything but the timing fields (null in
/// <see cref="Deterministic"/>) is a pure function of the inputs, so sweeps can compare runs byte for byte.
/// </summary>
public sealed record BenchResult
{
    public required string Model { get; init; }
    public required string Task { get; init; }
    public required string Policy { get; init; }
    public required string Budget { get; init; }
    /// <summary>When the cache compressed: context, question or chunked (<see cref="KvCache.CompressMode"/>).</summary>
    public required string Compress { get; init; }
    /// <summary>The steering applied (`--steer`), as one line: method, what it changes, file; null when none.</summary>
    public string? Steering { get; init; }
    /// <summary>The sparse prefill applied (`--prefill`), with its parameters; null for dense prefill.</summary>
    public string? Prefill { get; init; }
    /// <summary>Share of the causal (head, query block, key block) pairs the sparse prefill attended (1 = dense).</summary>
    public double? PrefillBlockShare { get; init; }
    public required int Samples { get; init; }
    public required int Seed { get; init; }
    /// <summary>Mean score in [0, 1]: token accuracy (copy, perplexity), exact match (passkey, multikey), ROUGE-1 recall (niah).</summary>
    public required double Accuracy { get; init; }
    public double? ExactMatch { get; init; }
    public double? Rouge1Recall { get; init; }
    public double? PerplexityNats { get; init; }
    public double? Perplexity { get; init; }
    public double? BitsPerByte { get; init; }
    /// <summary>Mean bytes the cache kept after the prompt (after its compression), over samples.</summary>
    public required long KvBytes { get; init; }
    /// <summary>Mean over samples of the most bytes the cache held at once (a one-shot compression first holds the whole context).</summary>
    public required long KvPeakBytes { get; init; }
    /// <summary>Mean bytes a full cache of the same lengths holds (layers x kv_heads x length x head_dim x 2 x 4).</summary>
    public required long KvBytesFull { get; init; }
    /// <summary>
    /// For caches that keep everything but attend a selection (delta's sparse layers, longheads past its window): the
    /// keys their selective attention attended over all samples, as a share of the keys those queries could see.
    /// </summary>
    public double? AttendedShare { get; init; }
    public required IReadOnlyList<int> Lengths { get; init; }
    public IReadOnlyList<double>? Depths { get; init; }
    /// <summary>Per length (numeric order).</summary>
    public required Dictionary<string, GroupScore> ByLength { get; init; }
    /// <summary>Per depth (numeric order).</summary>
    public Dictionary<string, GroupScore>? ByDepth { get; init; }
    public required IReadOnlyList<GridCell> Grid { get; init; }
    /// <summary>Each prompt's expected answer and greedy output, in grid order (answer tasks only): to see how a model fails.</summary>
    public IReadOnlyList<PromptAnswer>? Answers { get; init; }

    // Timing and memory of this process: vary run to run.
    public long? PeakRssBytes { get; init; }
    public long? RssBeforeBytes { get; init; }
    public long? RssAfterBytes { get; init; }
    public double? PrefillTps { get; init; }
    public double? DecodeTps { get; init; }
    public double? WallSeconds { get; init; }

    /// <summary>This result without the fields that vary between identical runs.</summary>
    public BenchResult Deterministic() => this with
    {
        PeakRssBytes = null, RssBeforeBytes = null, RssAfterBytes = null, PrefillTps = null, DecodeTps = null, WallSeconds = null,
    };

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static BenchResult FromJson(string json) =>
        JsonSerializer.Deserialize<BenchResult>(json, Json) ?? throw new HeadWiseException("empty bench result JSON");
}
