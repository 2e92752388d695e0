namespace HeadWise.Reports;

/// <summary>What one atlas map is: the score that makes it, the paper it comes from and a one-line definition.</summary>
/// <param name="Map">Map name in atlas.json.</param>
/// <param name="Score">The <c>--scores</c> name that computes it.</param>
/// <param name="Paper">The paper's title (or "—" for a plain statistic).</param>
/// <param name="Url">The paper's address, or null.</param>
/// <param name="Definition">What the number is, per head.</param>
public sealed record MapInfo(string Map, string Score, string Paper, string? Url, string Definition);

/// <summary>
/// Every map a profile can write, explained for the reports. A test checks that each registered score's maps are here, so
/// a new score that lacks a row fails there.
/// </summary>
public static class ScoreGlossary
{
    private static readonly MapInfo[] Rows =
    [
        new("sink", "sink", "When Attention Sink Emerges in Language Models: An Empirical View", "https://arxiv.org/abs/2410.10781",
            "Mean attention weight on the first token, over queries and probe documents."),
        new("secondary-sink", "secondary-sink", "On the Existence and Behaviour of Secondary Attention Sinks", "https://arxiv.org/abs/2512.22213",
            "Mean attention on positions other than the first that draw more than the threshold of their layer's attention from later queries."),
        new("waad", "locality", "Attention Illuminates LLM Reasoning (preplan-and-anchor)", "https://arxiv.org/abs/2510.13554",
            "Windowed average attention distance: sum over keys of weight × min(distance, W); about 1 for a previous-token head, up to W for global heads."),
        new("fai", "locality", "Attention Illuminates LLM Reasoning (preplan-and-anchor)", "https://arxiv.org/abs/2510.13554",
            "Future attention influence: the largest mean attention any key (after the first) receives from its later queries."),
        new("entropy", "entropy", "—", null,
            "Mean entropy of each query's attention distribution, in nats: low for focused heads, log(keys) for uniform ones."),
        new("similarity", "similarity", "DHA: Learning Decoupled-Head Attention from Transformer Checkpoints via Adaptive Heads Fusion", "https://arxiv.org/abs/2406.06567",
            "Highest cosine similarity between this head's attention pattern and another head's of the same layer (redundancy)."),
        new("heterogeneity", "heterogeneity", "Task-KV: Task-aware KV Cache Optimization via Semantic Differentiation of Attention Heads", "https://arxiv.org/abs/2501.15113",
            "Mean cosine distance (1 − cos) of the head's output from its layer's mean head output: far from the semantic centre = heterogeneous."),
        new("importance", "importance", "AttentionInfluence: Adopting Attention Head Influence for Weak-to-Strong Pretraining Data Selection", "https://arxiv.org/abs/2505.07293",
            "Change in next-token loss when the head's output is zeroed (encoders: relative change of the final hidden states)."),
        new("importance-kl", "importance", "AttentionInfluence: Adopting Attention Head Influence for Weak-to-Strong Pretraining Data Selection", "https://arxiv.org/abs/2505.07293",
            "KL divergence of the next-token distribution with the head zeroed from the clean one, nats per token."),
        new("sensitivity", "sensitivity", "HeSS: Head Sensitivity Score for Sparsity Redistribution", "https://arxiv.org/abs/2603.25336",
            "Second-order estimate of the loss change when the head's attention is sparsified to its top-k keys (empirical Fisher)."),
        new("qk-select", "qk-select", "Listening to the Wise Few: Select-and-Copy Attention Heads for Multiple-Choice QA", "https://arxiv.org/abs/2410.02343",
            "Share of multiple-choice prompts where the option whose label has the highest query·key score at the answer position is the right one."),
        new("retrieval", "retrieval", "Retrieval Head Mechanistically Explains Long-Context Factuality", "https://arxiv.org/abs/2404.15574",
            "Share of answer tokens the head copies from the needle while the model decodes the answer (its top-1 key holds the token generated)."),
        new("duo-gate", "duo-gate", "DuoAttention: Efficient Long-Context LLM Inference with Retrieval and Streaming Heads", "https://arxiv.org/abs/2410.10819",
            "Learned gate in [0, 1] mixing full and streaming attention, per KV head: near 1 = the head needs its full cache."),
    ];

    /// <summary>Every row, by map name.</summary>
    public static IReadOnlyDictionary<string, MapInfo> Maps { get; } = Rows.ToDictionary(r => r.Map);

    /// <summary>The row for <paramref name="map"/>, or a plain one naming it when the glossary lacks it.</summary>
    public static MapInfo For(string map) => Maps.TryGetValue(map, out var info) ? info : new MapInfo(map, map, "—", null, "(no description)");
}
