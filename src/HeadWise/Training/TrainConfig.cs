using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace HeadWise.Training;

/// <summary>
/// One phase of the sequence-length curriculum: from its start step, sequences of <see cref="SeqLen"/> tokens in batches
/// of <see cref="Batch"/>; with <see cref="MinSeqLen"/>, each step's length is drawn uniformly from [min_seq_len, seq_len]
/// and its batch holds about as many tokens (batch x seq_len), so one run trains at every length.
/// </summary>
public sealed record CurriculumPhase
{
    public int FromStep { get; init; }
    public int SeqLen { get; init; }
    public int Batch { get; init; }
    /// <summary>Shortest sequence of the phase; null: every step at <see cref="SeqLen"/>.</summary>
    public int? MinSeqLen { get; init; }
    /// <summary>This phase's task mix; null: the config's. A copy-only first phase forms induction heads fast.</summary>
    public TaskMix? Mix { get; init; }
    /// <summary>This phase's copy_repeat_share; null: the config's.</summary>
    public double? CopyRepeatShare { get; init; }
}

/// <summary>Relative weights of the sample kinds the data mixer draws (they need not sum to 1).</summary>
public sealed record TaskMix
{
    public double Text { get; init; } = 1;
    public double Passkey { get; init; } = 1;
    public double Niah { get; init; } = 1;
    public double KvRetrieval { get; init; } = 1;
    public double Copy { get; init; } = 1;
}

/// <summary>Relative weights of the needle styles among niah samples (they need not sum to 1).</summary>
public sealed record NeedleMix
{
    public double MagicNumber { get; init; } = 1;
    public double Keyed { get; init; } = 1;
    public double Fact { get; init; } = 1;
}

/// <summary>Arithmetic of the forward pass in training: fp32, or bf16 on a bf16 copy of the fp32 master weights.</summary>
public enum Precision { Fp32, Bf16 }

/// <summary>
/// Everything `headwise train` needs, read from one JSON file (snake_case keys; unknown keys are errors).
/// Paths in <see cref="Data"/> are relative to the config file's folder.
/// </summary>
public sealed record TrainConfig
{
    public string Name { get; init; } = "headwise-model";
    public int Seed { get; init; } = 1234;

    // Model (Llama architecture, multi-head attention, interleaved RoPE as GGUF "llama" stores it).
    public int Layers { get; init; } = 4;
    public int Dim { get; init; } = 128;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; }   // 0: same as Heads (multi-head attention)
    public int FfnDim { get; init; } = 384;
    public int Context { get; init; } = 2048;
    public double RopeTheta { get; init; } = 10000;
    /// <summary>
    /// The attention variant (issue 20): {"kind": "sqa", "query_heads": 4}, {"kind": "moh", "shared_heads": 2, "top_k": 2},
    /// {"kind": "sigmoid"}, {"kind": "linear"}, {"kind": "mala"}; null: softmax attention. See docs/variants.md.
    /// </summary>
    public Models.Variants.AttentionVariant? Attention { get; init; }

    /// <summary>
    /// Norm of one random vector added to every token embedding at initialisation (0: none). A component shared by
    /// all tokens lets a layer-0 head attend by position alone through RoPE (a previous-token head), which induction
    /// and retrieval heads build on; without it such heads formed slowly on this budget.
    /// </summary>
    public double EmbeddingOffset { get; init; }

    // Tokenizer: byte-level BPE trained on the text files; its size includes 256 bytes and 2 specials.
    public int VocabSize { get; init; } = 1024;
    /// <summary>Characters of text the BPE trainer reads (from the start of the training text).</summary>
    public int TokenizerTrainChars { get; init; } = 4_000_000;

    /// <summary>
    /// Start from the weights of this checkpoint folder (a previous run's checkpoint/) instead of random ones, with a
    /// fresh optimizer: a second training stage. Relative paths are found from the config's folder upward.
    /// </summary>
    public string? InitFrom { get; init; }

    // Data.
    public string[] Data { get; init; } = [];
    public double HeldOutFraction { get; init; } = 0.02;
    public TaskMix Mix { get; init; } = new();
    /// <summary>Loss weight of answer tokens in the synthetic tasks (text tokens weigh 1).</summary>
    public double AnswerWeight { get; init; } = 4;
    /// <summary>Share of copy samples that repeat a short random segment until the sequence is full.</summary>
    public double CopyRepeatShare { get; init; }
    /// <summary>How often each needle style is drawn for a niah sample (magic number, keyed numbers, facts to copy).</summary>
    public NeedleMix NiahStyles { get; init; } = new();
    /// <summary>
    /// Loss weight of niah answers; null: <see cref="AnswerWeight"/>. A niah sample has a dozen answer tokens among
    /// 2,048, against a thousand in a copy sample, so at the common weight the needle answers got under 1 % of the loss weight.
    /// </summary>
    public double? NiahAnswerWeight { get; init; }
    /// <summary>
    /// Fact and keyed niah samples hide 1 to this many needles (facts ask for each at the end, keyed samples for some).
    /// More needles give more answers per sequence and make the question's place or key decide which one to copy.
    /// </summary>
    public int NiahFacts { get; init; } = 1;
    /// <summary>Random copy tokens are drawn from this many of the most frequent learned pieces; 0: from the whole vocabulary.</summary>
    public int CopyRandomVocab { get; init; }

    // Optimisation.
    public int Steps { get; init; } = 1000;
    public CurriculumPhase[] Curriculum { get; init; } = [new() { FromStep = 0, SeqLen = 256, Batch = 8 }];
    public double LearningRate { get; init; } = 3e-3;
    public double MinLearningRate { get; init; } = 3e-4;
    public int WarmupSteps { get; init; } = 50;
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double GradClip { get; init; } = 1.0;
    public Precision Precision { get; init; } = Precision.Fp32;

    // Bookkeeping.
    public int CheckpointEvery { get; init; } = 100;
    /// <summary>Measure the attention-sink ratio every this many steps (sinks.jsonl); 0: only at the end.</summary>
    public int EvalEvery { get; init; } = 0;
    /// <summary>Stop (with a checkpoint and the exports) after this many minutes of training; 0: no limit.</summary>
    public double MaxMinutes { get; init; }

    public int EffectiveKvHeads => KvHeads == 0 ? Heads : KvHeads;

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        AllowOutOfOrderMetadataProperties = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    /// <summary>
    /// Reads and validates a config file; data paths are resolved against its folder. Each of <paramref name="overrides"/>
    /// ("field=value", the value JSON or else a string) replaces one top-level field first, so a factor can be varied
    /// without a second copy of the config (`train --set weight_decay=0.5`).
    /// </summary>
    public static TrainConfig Load(string path, IReadOnlyList<string>? overrides = null)
    {
        if (!File.Exists(path)) throw new HeadWiseException($"{path}: config file not found");
        TrainConfig? c;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (node is not JsonObject fields) throw new HeadWiseException($"{path}: the config must be a JSON object");
            foreach (var o in overrides ?? []) Override(fields, o);
            c = fields.Deserialize<TrainConfig>(Json);
        }
        catch (JsonException e) { throw new HeadWiseException($"{path}: {e.Message}"); }
        if (c is null) throw new HeadWiseException($"{path}: the config is empty (null)");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        c = c with { Data = c.Data.Select(d => ResolveData(dir, d)).ToArray(), InitFrom = c.InitFrom is null ? null : ResolveData(dir, c.InitFrom) };
        TrainConfigValidator.Validate(c, path);
        return c;
    }

    private static void Override(JsonObject fields, string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new HeadWiseException($"--set {assignment}: expected field=value, e.g. weight_decay=0.5");
        string name = assignment[..eq].Trim(), text = assignment[(eq + 1)..];
        JsonNode? value;
        try { value = JsonNode.Parse(text); }
        catch (JsonException) { value = JsonValue.Create(text); }   // a bare word: a string
        fields[name] = value;
    }

    /// <summary>
    /// A relative data path is looked up from the config's folder and then each folder above it, first match wins:
    /// "shared/data/moby-dick.txt" finds the project's ../shared from configs/ in any checkout, or HEADWISE_SHARED's.
    /// </summary>
    private static string ResolveData(string configDir, string entry)
    {
        if (Path.IsPathRooted(entry)) return entry;
        // HEADWISE_SHARED names the shared folder wherever it lives (the README's alternative to ../shared).
        var shared = Environment.GetEnvironmentVariable("HEADWISE_SHARED");
        if (!string.IsNullOrEmpty(shared) && entry.StartsWith("shared/", StringComparison.Ordinal))
        {
            var mapped = Path.GetFullPath(Path.Combine(shared, entry["shared/".Length..]));
            if (File.Exists(mapped) || Directory.Exists(mapped)) return mapped;
        }
        for (var d = new DirectoryInfo(configDir); d is not null; d = d.Parent)
        {
            var candidate = Path.GetFullPath(Path.Combine(d.FullName, entry));
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        return Path.GetFullPath(Path.Combine(configDir, entry));
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
