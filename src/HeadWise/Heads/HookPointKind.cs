namespace HeadWise.Heads;

/// <summary>Which heads a hook point's head axis holds.</summary>
public enum HeadAxisKind
{
    /// <summary>The point has no head axis.</summary>
    None,
    /// <summary>Query heads, on axis 2: [B, T, H, ...].</summary>
    QueryHeads,
    /// <summary>KV heads (fewer than query heads under grouped-query attention), on axis 2: [B, T, K, d].</summary>
    KvHeads,
    /// <summary>Query heads of an attention map, on axis 1: [B, H, T, S].</summary>
    AttentionMap,
}

/// <summary>
/// One kind of hook point: its name (the part after <c>blocks.{L}.</c> for points inside a block), whether it sits in a
/// block, its head axis and its shape. <see cref="HookPoints.All"/> holds every kind; names, head axes, parsing and its
/// errors all derive from that table.
/// </summary>
/// <param name="Suffix">The name, or its part after <c>blocks.{L}.</c> when <paramref name="InBlock"/>.</param>
/// <param name="InBlock">True for points that exist once per block.</param>
/// <param name="Heads">Which heads the head axis holds.</param>
/// <param name="Shape">The activation's shape, TransformerLens style (B batch, T positions, S keys, H heads, K KV heads,
/// d head size, D model width, F feed-forward width, V vocabulary).</param>
/// <param name="Description">What the activation is.</param>
public sealed record HookPointKind(string Suffix, bool InBlock, HeadAxisKind Heads, string Shape, string Description)
{
    /// <summary>The axis that holds heads, or null.</summary>
    public int? HeadAxis => Heads switch
    {
        HeadAxisKind.QueryHeads or HeadAxisKind.KvHeads => 2,
        HeadAxisKind.AttentionMap => 1,
        _ => null,
    };

    /// <summary>The axis of the (query) positions.</summary>
    public int PositionAxis => Heads == HeadAxisKind.AttentionMap ? 2 : 1;

    /// <summary>The full name of this point in block <paramref name="layer"/> (the suffix itself outside blocks).</summary>
    public string NameIn(int layer) => InBlock ? $"blocks.{layer}.{Suffix}" : Suffix;

    /// <summary>How the name is written for any block: <c>blocks.{L}.attn.hook_q</c>.</summary>
    public string Pattern => InBlock ? "blocks.{L}." + Suffix : Suffix;
}

/// <summary>
/// The hook-point table, in forward order (TransformerLens names). Adding a hook point is one row here plus the line in
/// <see cref="Models.Transformer"/> that calls it.
/// </summary>
public static class HookPoints
{
    private static HookPointKind Top(string name, string shape, string what) => new(name, false, HeadAxisKind.None, shape, what);
    private static HookPointKind Block(string suffix, string shape, string what, HeadAxisKind heads = HeadAxisKind.None) => new(suffix, true, heads, shape, what);

    /// <summary>Token embeddings.</summary>
    public static readonly HookPointKind Embed = Top("hook_embed", "[B,T,D]", "token embeddings");
    /// <summary>Learned position embeddings (GPT-2, BERT).</summary>
    public static readonly HookPointKind PosEmbed = Top("hook_pos_embed", "[B,T,D]", "learned position embeddings");
    /// <summary>The residual stream entering a block.</summary>
    public static readonly HookPointKind ResidPre = Block("hook_resid_pre", "[B,T,D]", "residual stream entering the block");
    /// <summary>The attention input copied once per query head; editing one copy changes only that head's query (and, under
    /// grouped-query attention, the keys and values of a KV head come from the copy of the first query head of its group).</summary>
    public static readonly HookPointKind AttnIn = Block("hook_attn_in", "[B,T,H,D]", "attention input, one copy per query head (before ln1)", HeadAxisKind.QueryHeads);
    /// <summary>ln1's scale: sqrt(mean of squares + eps), of the centred input for LayerNorm.</summary>
    public static readonly HookPointKind Ln1Scale = Block("ln1.hook_scale", "[B,T,1]", "ln1 scale (root mean square, centred for LayerNorm)");
    /// <summary>ln1's normalised input, before its gain and bias.</summary>
    public static readonly HookPointKind Ln1Normalized = Block("ln1.hook_normalized", "[B,T,D]", "ln1 output before its gain and bias");
    /// <summary>Queries before RoPE.</summary>
    public static readonly HookPointKind Q = Block("attn.hook_q", "[B,T,H,d]", "queries before RoPE", HeadAxisKind.QueryHeads);
    /// <summary>Keys before RoPE.</summary>
    public static readonly HookPointKind K = Block("attn.hook_k", "[B,T,K,d]", "keys before RoPE", HeadAxisKind.KvHeads);
    /// <summary>Values.</summary>
    public static readonly HookPointKind V = Block("attn.hook_v", "[B,T,K,d]", "values", HeadAxisKind.KvHeads);
    /// <summary>Queries after RoPE.</summary>
    public static readonly HookPointKind RotQ = Block("attn.hook_rot_q", "[B,T,H,d]", "queries after RoPE", HeadAxisKind.QueryHeads);
    /// <summary>Keys after RoPE.</summary>
    public static readonly HookPointKind RotK = Block("attn.hook_rot_k", "[B,T,K,d]", "keys after RoPE", HeadAxisKind.KvHeads);
    /// <summary>Attention scores q·k/sqrt(d), causal positions masked to -inf.</summary>
    public static readonly HookPointKind Scores = Block("attn.hook_attn_scores", "[B,H,T,S]", "attention scores (masked, before softmax)", HeadAxisKind.AttentionMap);
    /// <summary>Attention weights (softmax of the scores).</summary>
    public static readonly HookPointKind Pattern = Block("attn.hook_pattern", "[B,H,T,S]", "attention weights", HeadAxisKind.AttentionMap);
    /// <summary>Each head's weighted sum of values, before W_O.</summary>
    public static readonly HookPointKind Z = Block("attn.hook_z", "[B,T,H,d]", "each head's output before W_O", HeadAxisKind.QueryHeads);
    /// <summary>Each head's output after W_O (bias excluded); summed over heads it is the attention output.</summary>
    public static readonly HookPointKind Result = Block("attn.hook_result", "[B,T,H,D]", "each head's output after W_O (bias excluded)", HeadAxisKind.QueryHeads);
    /// <summary>The attention block's output.</summary>
    public static readonly HookPointKind AttnOut = Block("hook_attn_out", "[B,T,D]", "attention output");
    /// <summary>The residual stream between attention and feed-forward.</summary>
    public static readonly HookPointKind ResidMid = Block("hook_resid_mid", "[B,T,D]", "residual stream after attention");
    /// <summary>ln2's scale.</summary>
    public static readonly HookPointKind Ln2Scale = Block("ln2.hook_scale", "[B,T,1]", "ln2 scale (root mean square, centred for LayerNorm)");
    /// <summary>ln2's normalised input, before its gain and bias.</summary>
    public static readonly HookPointKind Ln2Normalized = Block("ln2.hook_normalized", "[B,T,D]", "ln2 output before its gain and bias");
    /// <summary>The feed-forward pre-activation (the gate projection of a gated MLP).</summary>
    public static readonly HookPointKind MlpPre = Block("mlp.hook_pre", "[B,T,F]", "feed-forward pre-activation (gate projection when gated)");
    /// <summary>The feed-forward activation that W_out reads (times the up projection when gated).</summary>
    public static readonly HookPointKind MlpPost = Block("mlp.hook_post", "[B,T,F]", "feed-forward activation, the input of W_out");
    /// <summary>The feed-forward block's output.</summary>
    public static readonly HookPointKind MlpOut = Block("hook_mlp_out", "[B,T,D]", "feed-forward output");
    /// <summary>The residual stream leaving a block.</summary>
    public static readonly HookPointKind ResidPost = Block("hook_resid_post", "[B,T,D]", "residual stream leaving the block");
    /// <summary>The final norm's scale.</summary>
    public static readonly HookPointKind FinalScale = Top("ln_final.hook_scale", "[B,T,1]", "final norm scale");
    /// <summary>The final norm's normalised input, before its gain and bias.</summary>
    public static readonly HookPointKind FinalNormalized = Top("ln_final.hook_normalized", "[B,T,D]", "final norm output before its gain and bias");
    /// <summary>The logits.</summary>
    public static readonly HookPointKind UnembedOut = Top("unembed.hook_out", "[B,T,V]", "logits");

    /// <summary>Every kind, in forward order.</summary>
    public static IReadOnlyList<HookPointKind> All { get; } =
    [
        Embed, PosEmbed, ResidPre, AttnIn, Ln1Scale, Ln1Normalized, Q, K, V, RotQ, RotK, Scores, Pattern, Z, Result, AttnOut,
        ResidMid, Ln2Scale, Ln2Normalized, MlpPre, MlpPost, MlpOut, ResidPost, FinalScale, FinalNormalized, UnembedOut,
    ];

    /// <summary>The kinds inside a block, in forward order.</summary>
    public static IReadOnlyList<HookPointKind> InBlock { get; } = All.Where(k => k.InBlock).ToArray();
}
