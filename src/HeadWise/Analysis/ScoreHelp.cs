namespace HeadWise.Analysis;

/// <summary>
/// One line per score for `profile --help`: the paper and what HeadWise does differently, in particular what it scales
/// down for small models and CPU profiles (docs/fidelity.md has each score's full comparison).
/// </summary>
public static class ScoreHelp
{
    public static readonly IReadOnlyDictionary<string, string> Lines = new Dictionary<string, string>
    {
        ["sink"] = "first-token attention and the share of sink heads (Gu et al. 2025)",
        ["secondary-sink"] = "non-first tokens that draw a layer's attention (Wong et al. 2025; detection threshold HeadWise's)",
        ["locality"] = "WAAD and FAI (Li et al. 2025) summarised per head",
        ["entropy"] = "mean attention entropy (Zhai et al. 2023)",
        ["similarity"] = "cosine similarity of heads' patterns, clustered (in the spirit of DHA and ProxyAttn)",
        ["heterogeneity"] = "distance from the layer's mean head output (Task-KV, He et al. 2025)",
        ["importance"] = "one head masked at a time: loss change and KL (Michel et al. 2019)",
        ["sensitivity"] = "HeSS (Kim et al. 2026) read as two error terms, attention map and head output, with a diagonal Fisher; simplified: the terms are HeadWise's reading of the abstract and the budget redistribution is not implemented",
        ["qk-select"] = "select-and-copy heads (Tulchinskii et al. 2024) on synthetic questions from the probe text instead of MMLU",
        ["retrieval"] = "Retrieval Head copy-paste score (Wu et al. 2024); 50 needle prompts in probe-length contexts instead of 600 up to 50K tokens, for CPU profiles",
        ["retrieval-reasoning"] = "HeadKV-R2 (Fu et al. 2024), what headkv reads; two named facts, one asked, in probe-length contexts (a pick among facts stands for the paper's reasoning step)",
        ["attention-influence"] = "AttentionInfluence (Hua et al. 2025): retrieval heads masked together, probe documents ranked by relative loss change",
        ["duo-gate"] = "DuoAttention's gates (Xiao et al. 2024), trained as published with the streaming pattern it deploys; haystack from the probe text instead of BookSum, lengths scaled to the model's context (--score-params)",
    };

    /// <summary>"name: line; ..." for the given score names.</summary>
    public static string Describe(IEnumerable<string> names) => string.Join("; ", names.Select(n => $"{n}: {Lines[n]}"));
}
