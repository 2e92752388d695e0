using HeadWise.Heads;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Models;

/// <summary>
/// The model's attention, softmax(q k^T / sqrt(d) + mask) v, as one forward call hands it to its KV cache: grouped-query
/// heads, the fused kernel, and the hooks on scores and pattern. A cache calls it over whatever keys it decides the new
/// queries attend: <see cref="KvCache.FullKvCache"/> over every stored position; a cache that keeps everything but
/// chooses per head and per step (DELTA, LongHeads) over its selection, with a mask or with keys re-rotated to other
/// positions (<see cref="Rope"/>).
/// </summary>
public sealed class AttentionKernel
{
    private readonly Scalar _scale;
    private readonly IForwardHooks? _hooks;

    internal AttentionKernel(ModelSpec spec, Rope? rope, Scalar scale, IForwardHooks? hooks, long start)
    {
        Spec = spec;
        Rope = rope;
        _scale = scale;
        _hooks = hooks;
        Start = start;
    }

    public ModelSpec Spec { get; }

    /// <summary>The model's rotary embedding (null for learned positions): <c>Rope.Apply(x, positions)</c> rotates to any positions.</summary>
    public Rope? Rope { get; }

    /// <summary>Position of this forward call's first token (the cache's length before the call).</summary>
    public long Start { get; }

    /// <summary>
    /// Attention of queries <paramref name="q"/> [1, H, T, d] over keys and values [1, KvH, S, d] (RoPE applied) → [1, H, T, d].
    /// <paramref name="mask"/> null: the last T keys are these queries' own tokens in order and every key before them is
    /// visible (causal); otherwise bool [T, S] or [1 or H, T, S], true where a query may attend a key.
    /// </summary>
    public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, Tensor? mask = null)
    {
        var names = HookNames.ForLayer(layer);
        if (Spec.Attention is { SoftmaxWeights: false } variant) return VariantAttend(variant, names, q, k, v, mask);
        if (!HooksReadScores(layer)) return Fused(q, k, v, mask);

        // Scores and pattern only for the heads the hooks asked for ([B, h', T, S]); the others are never built.
        var heads = _hooks!.PatternHeads(layer);
        Tensor? index = heads is null ? null : torch.tensor(heads.Select(h => (long)h).ToArray());
        Tensor? kvIndex = heads is null ? null : torch.tensor(heads.Select(h => (long)(h / Spec.GroupSize)).ToArray());
        // Scores and pattern in float32 whatever the compute dtype: they are what the hooks read.
        var (ke, ve) = index is null ? RepeatKv(Float(k), Float(v)) : (Float(k).index_select(1, kvIndex!), Float(v).index_select(1, kvIndex!));
        var qs = index is null ? Float(q) : Float(q).index_select(1, index);
        var scores = torch.matmul(qs, ke.transpose(-2, -1)).mul_(_scale);
        var allowed = Allowed(q.shape[2], k.shape[2], mask);
        if (allowed is not null)
        {
            if (index is not null && allowed.dim() == 3 && allowed.shape[0] > 1) allowed = allowed.index_select(0, index);
            scores = scores.masked_fill(allowed.logical_not(), HeldScalars.NegativeInfinity);
        }
        var edited = Hook(names.Scores, scores);
        var pattern = F.softmax(edited, -1);
        var patternOut = Hook(names.Pattern, pattern);
        // Observation only (or a replacement equal to what was there): keep the exact numbers of the unobserved run.
        if (Unchanged(edited, scores) && Unchanged(patternOut, pattern)) return Fused(q, k, v, mask);
        var zs = torch.matmul(Float(patternOut), ve).to(q.dtype);
        return index is null ? zs : Fused(q, k, v, mask).index_copy(1, index, zs);
    }

    /// <summary>
    /// A variant's own weights in place of softmax (sigmoid, linear, MALA), built explicitly for every head: hooks on the
    /// scores see the variant's pre-activation scores, hooks on the pattern its weights (rows need not sum to 1).
    /// </summary>
    private Tensor VariantAttend(Variants.AttentionVariant variant, HookNames.Layer names, Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        var (ke, ve) = RepeatKv(Float(k), Float(v));
        var weights = variant.Weights(Spec, Float(q), ke, Allowed(q.shape[2], k.shape[2], mask), 1.0 / Math.Sqrt(Spec.HeadDim), s => Hook(names.Scores, s))
                      ?? throw new InvalidOperationException($"attention variant {variant.Kind} has no weights of its own");
        return torch.matmul(Hook(names.Pattern, weights), ve).to(q.dtype);
    }

    /// <summary>Whether hooks read or edit <paramref name="layer"/>'s scores or pattern (a cache with its own kernel cannot serve them).</summary>
    public bool HooksReadScores(int layer)
    {
        if (_hooks is null) return false;
        var names = HookNames.ForLayer(layer);
        return _hooks.Wants(names.Scores) || _hooks.Wants(names.Pattern);
    }

    /// <summary>Attention probabilities [1, H, T, S] of <paramref name="q"/> over <paramref name="k"/> in float32 (explicit softmax, no hooks; mask as in <see cref="Attend"/>).</summary>
    public Tensor Probabilities(Tensor q, Tensor k, Tensor? mask = null)
    {
        var (ke, _) = RepeatKv(Float(k), Float(k));
        var scores = torch.matmul(Float(q), ke.transpose(-2, -1)).mul_(_scale);
        if (Allowed(q.shape[2], k.shape[2], mask) is { } allowed) scores = scores.masked_fill(allowed.logical_not(), HeldScalars.NegativeInfinity);
        return F.softmax(scores, -1);
    }

    /// <summary>The boolean mask [T, S] or [.., T, S] that applies (null: nothing masked).</summary>
    private Tensor? Allowed(long t, long s, Tensor? mask)
    {
        if (mask is not null) return mask;
        if (!Spec.Causal || t == 1) return null;
        return CausalMask(t, s);
    }

    private Tensor Fused(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        long t = q.shape[2], s = k.shape[2];
        if (mask is null && t == 1 && Spec.Causal)
        {
            // Decode: one query sees every key, so no mask.
            return OneQuery(q, k, v);
        }
        var (kr, vr) = RepeatKv(k, v);
        if (mask is not null) return F.scaled_dot_product_attention(q, kr, vr, mask.dim() == 3 ? mask.unsqueeze(0) : mask);
        if (!Spec.Causal) return F.scaled_dot_product_attention(q, kr, vr);
        if (s == t) return F.scaled_dot_product_attention(q, kr, vr, is_casual: true);
        return F.scaled_dot_product_attention(q, kr, vr, CausalMask(t, s));
    }

    /// <summary>
    /// The model's decode attention: one query per head over every key, no mask; q [B, H, 1, d], k and v [B, KvH, S, d]
    /// → [B, H, 1, d]. A cache that attends a decode step itself calls this to keep the model's numbers.
    /// </summary>
    public static Tensor OneQuery(Tensor q, Tensor k, Tensor v)
    {
        if (DecodeAttention.Applies(q, k, v)) return DecodeAttention.Attend(q, k, v);
        // Fold the query heads of a KV group together (no K/V copy).
        var qg = q.reshape(q.shape[0], k.shape[1], q.shape[1] / k.shape[1], q.shape[3]);
        return F.scaled_dot_product_attention(qg, k, v).reshape(q.shape);
    }

    private (Tensor K, Tensor V) RepeatKv(Tensor k, Tensor v)
    {
        int group = Spec.GroupSize;
        return group == 1 ? (k, v) : (k.repeat_interleave(group, 1), v.repeat_interleave(group, 1));
    }

    /// <summary>True where query i (the (S-T+i)-th key's token) may attend key j: every earlier key and itself.</summary>
    private static Tensor CausalMask(long t, long s)
    {
        var qi = torch.arange(s - t, s, dtype: ScalarType.Int64).unsqueeze(1);
        var kj = torch.arange(0, s, dtype: ScalarType.Int64).unsqueeze(0);
        return kj.le(qi);
    }

    /// <summary>Runs the hook on a float32 view of x; an edit comes back in x's dtype (as the forward pass's hooks do).</summary>
    private Tensor Hook(string name, Tensor x)
    {
        if (_hooks is null || !_hooks.Wants(name)) return x;
        var f = Float(x);
        var y = _hooks.Apply(name, f);
        return ReferenceEquals(y, f) ? x : y.dtype == x.dtype ? y : y.to(x.dtype);
    }

    private static Tensor Float(Tensor x) => x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);

    /// <summary>
    /// A hook returned its input, or a tensor of the same values (patching a run from itself). A replacement that carries
    /// gradients (learned gates, sensitivity masks) always counts as a change, so autograd sees it.
    /// </summary>
    internal static bool Unchanged(Tensor after, Tensor before) =>
        ReferenceEquals(after, before) ||
        (!after.requires_grad && after.shape.SequenceEqual(before.shape) && after.eq(before).all().item<bool>());
}
