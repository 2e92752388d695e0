using HeadWise.Heads;
using HeadWise.KvCache;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Models;

/// <summary>
/// The forward pass for every family (Llama, Mistral, Qwen2/3, GPT-2, BERT), read top to bottom like llama2.c:
/// embed, then per block attention and feed-forward with residuals, then final norm and unembedding.
/// Activations follow TransformerLens shapes so that hooks see what interpretability code expects.
/// Precision: the residual stream, norms, softmax statistics and logits are float32; the matrix products run in the
/// weights' compute dtype (<see cref="ComputeDType"/>: float32 or bf16, whose CPU kernels accumulate in float32), and
/// attention reads q, k and v in it. Hooks always see float32 and their edits go back in the tensor's own dtype.
/// </summary>
public sealed class Transformer : IDisposable
{
    private readonly Rope? _rope;
    // Held for the model's life rather than passed as numbers: see HeldScalars.
    private readonly Scalar _scale, _normEps;
    private readonly ScalarType _compute;
    private readonly float _normEpsF;

    /// <summary>The forward pass of <paramref name="spec"/> over <paramref name="weights"/> (normally made by <see cref="ModelLoader.Load"/>).</summary>
    public Transformer(ModelSpec spec, ModelWeights weights)
    {
        Spec = spec;
        Weights = weights;
        _rope = spec.Positions == PositionKind.Rope ? new Rope(spec, spec.ContextLength) : null;
        _scale = (1.0 / Math.Sqrt(spec.HeadDim)).ToScalar();
        _normEps = spec.NormEps.ToScalar();
        _normEpsF = (float)spec.NormEps;
        _compute = spec.Compute.ScalarType();
    }

    /// <summary>The rotary embedding (null for learned positions).</summary>
    internal Rope? Rope => _rope;

    /// <summary>The architecture.</summary>
    public ModelSpec Spec { get; }

    /// <summary>Where a routed attention variant (MoH) reports its load-balance loss and head choices; null: not recorded.</summary>
    public Variants.HeadRouting? Routing { get; set; }
    /// <summary>
    /// The weights, TransformerLens-style per layer (W_Q, W_K, ... as <see cref="LayerWeights"/>). Borrowed: whoever
    /// loaded them (<see cref="LoadedModel"/>, a trainer) owns and disposes them.
    /// </summary>
    public ModelWeights Weights { get; }

    /// <summary>
    /// Runs tokens [B, T] (int64) that follow what <paramref name="cache"/> already holds (batch 1 with a cache).
    /// Returns logits [B, T, vocab] (only the last position when <paramref name="lastOnly"/>), or, for encoders,
    /// the final hidden states [B, T, dim]. Every layer hands its new queries, keys and values to the cache, which
    /// attends (through the model's <see cref="AttentionKernel"/>) over what it keeps.
    /// </summary>
    public Tensor Forward(Tensor tokens, IKvCache? cache = null, IForwardHooks? hooks = null, bool lastOnly = false, Tensor? tokenTypes = null)
    {
        long start = cache?.Length ?? 0, t = tokens.shape[1];
        // Only a cache whose policy keeps positions in the trained range (MaxLength) runs a rotary model past its context.
        long limit = cache is not null && _rope is not null ? Math.Max(cache.MaxLength, Spec.ContextLength) : Spec.ContextLength;
        if (start + t > limit)
            throw new HeadWiseException(limit == Spec.ContextLength
                ? $"context of {start + t} tokens exceeds the model's limit of {Spec.ContextLength}"
                : $"context of {start + t} tokens exceeds the limit of {limit} of this KV cache (the model's context is {Spec.ContextLength})");
        if (cache is not null and not FullKvCache && Spec.Attention is { SoftmaxWeights: false } variant)
            throw new HeadWiseException($"this model uses {variant.Kind} attention, whose weights are not softmax probabilities; " +
                                        "KV policies that score or select keys by softmax attention do not apply to it (use the full cache)");
        if (FusedDecode.Applies(Spec, Weights, _rope, tokens, cache, hooks))
            return FusedDecode.Step(Spec, Weights, _rope!, _normEpsF, tokens.item<long>(), (FullKvCache)cache!);
        using var scope = torch.NewDisposeScope();
        var step = new Step(cache, hooks, new AttentionKernel(Spec, _rope, _scale, hooks, start));
        var x = Embed(tokens, start, tokenTypes, hooks);
        // With no hooks and no autograd nothing reads a layer's intermediates once the layer is done, so each layer frees
        // its own: a long prefill otherwise holds every layer's at once (8-9.8 GB at 8,192 tokens on a 110M model).
        bool freeEachLayer = hooks is null && !torch.is_grad_enabled();
        using var heap = freeEachLayer ? Runtime.HeapReuse.For(t) : null; // and what a layer frees, the next reuses
        for (int l = 0; l < Spec.Layers; l++)
            x = freeEachLayer ? FreeingBlock(l, x, step) : Block(l, x, step);
        cache?.Advance(t);
        if (lastOnly) x = x.narrow(1, t - 1, 1);
        if (!Spec.Causal) return x.MoveToOuterDisposeScope();
        x = Norm(x, Weights.OutputNorm!, Weights.OutputNormBias, hooks, HookNames.FinalScale, HookNames.FinalNormalized);
        var logits = Float(Linear(x, Weights.Output, null));
        return Hook(hooks, HookNames.UnembedOut, logits).MoveToOuterDisposeScope();
    }

    /// <summary>What every layer of one forward call shares: the cache, the hooks and the attention offered to the cache.</summary>
    private sealed record Step(IKvCache? Cache, IForwardHooks? Hooks, AttentionKernel Attention);

    /// <summary>Final norm and unembedding of residual-stream vectors [..., D] → logits [..., V] (the logit lens).</summary>
    public Tensor Unembed(Tensor residual)
    {
        if (!Spec.Causal) throw new HeadWiseException($"{Spec.Architecture} is an encoder: it has no unembedding");
        return Float(Linear(Norm(residual, Weights.OutputNorm!, Weights.OutputNormBias), Weights.Output, null));
    }

    private Tensor Embed(Tensor tokens, long start, Tensor? tokenTypes, IForwardHooks? hooks)
    {
        var x = Hook(hooks, HookNames.Embed, Float(Lookup(Weights.TokenEmbedding, tokens)));
        if (Weights.PositionEmbedding is { } pos)
            x = x.Plus(Hook(hooks, HookNames.PosEmbed, pos.narrow(0, start, tokens.shape[1]).unsqueeze(0)));
        if (Weights.TokenTypeEmbedding is { } types)
            x = x.Plus(tokenTypes is null ? types[0] : Lookup(types, tokenTypes, "token type"));
        if (Weights.EmbeddingNorm is { } n) x = Norm(x, n, Weights.EmbeddingNormBias);
        return x;
    }

    /// <summary>Rows of <paramref name="table"/> for ids [B, T] → [B, T, D]; an id outside the table is a HeadWise error,
    /// not libtorch's native index error.</summary>
    private static Tensor Lookup(Tensor table, Tensor ids, string what = "token id")
    {
        if (ids.numel() > 0)
        {
            long lo = ids.min().item<long>(), hi = ids.max().item<long>();
            if (lo < 0 || hi >= table.shape[0])
                throw new HeadWiseException($"{what} {(lo < 0 ? lo : hi)} is outside the model's table of {table.shape[0]}");
        }
        return table.index_select(0, ids.flatten()).view(ids.shape[0], ids.shape[1], table.shape[1]);
    }

    /// <summary><see cref="Block"/> in its own dispose scope; the layer's input is freed too (only its output goes on).</summary>
    private Tensor FreeingBlock(int l, Tensor x, Step step)
    {
        Tensor y;
        using (torch.NewDisposeScope())
            y = Block(l, x, step).MoveToOuterDisposeScope();
        x.Dispose();
        return y;
    }

    private Tensor Block(int l, Tensor x, Step step)
    {
        var hooks = step.Hooks;
        var w = Weights.Layers[l];
        var names = HookNames.ForLayer(l);
        x = Hook(hooks, names.ResidPre, x);
        if (Spec.PostNorm)
        {
            // BERT: x = LN(x + attn(x)); x = LN(x + ffn(x))
            var attn = Hook(hooks, names.AttnOut, Attention(l, w, names, AttnIn(names, x, hooks, null), step));
            x = Norm(Hook(hooks, names.ResidMid, x.Plus(attn)), w.AttnOutputNorm!, w.AttnOutputNormBias, hooks, names.Ln1Scale, names.Ln1Normalized);
            var mlp = Hook(hooks, names.MlpOut, FeedForward(w, x, names, hooks));
            return Hook(hooks, names.ResidPost, Norm(x.Plus(mlp), w.LayerOutputNorm!, w.LayerOutputNormBias, hooks, names.Ln2Scale, names.Ln2Normalized));
        }
        var a = Hook(hooks, names.AttnOut, Attention(l, w, names, AttnIn(names, x, hooks, w), step));
        x = Hook(hooks, names.ResidMid, x.Plus(a));
        var m = Hook(hooks, names.MlpOut, FeedForward(w, Norm(x, w.FfnNorm!, w.FfnNormBias, hooks, names.Ln2Scale, names.Ln2Normalized), names, hooks));
        return Hook(hooks, names.ResidPost, x.Plus(m));
    }

    /// <summary>
    /// The attention's input: ln1 of the residual (pre-norm) or the residual itself (<paramref name="ln1"/> null, post-norm).
    /// When a hook edits hook_attn_in, the input is one copy per query head [B, T, H, D] (normalised per copy).
    /// </summary>
    private Tensor AttnIn(HookNames.Layer names, Tensor x, IForwardHooks? hooks, LayerWeights? ln1)
    {
        if (hooks is not null && hooks.Wants(names.AttnIn))
        {
            var copies = x.unsqueeze(2).expand(x.shape[0], x.shape[1], Spec.Heads, x.shape[2]).contiguous();
            var edited = Hook(hooks, names.AttnIn, copies);
            if (!AttentionKernel.Unchanged(edited, copies))
                return ln1 is null ? edited : Norm(edited, ln1.AttnNorm!, ln1.AttnNormBias, hooks, names.Ln1Scale, names.Ln1Normalized);
        }
        return ln1 is null ? x : Norm(x, ln1.AttnNorm!, ln1.AttnNormBias, hooks, names.Ln1Scale, names.Ln1Normalized);
    }

    private Tensor Attention(int l, LayerWeights w, HookNames.Layer names, Tensor x, Step step)
    {
        var hooks = step.Hooks;
        long start = step.Attention.Start;
        long b = x.shape[0], t = x.shape[1];
        int h = Spec.Heads, kvh = Spec.KvHeads, hd = Spec.HeadDim;
        // A routed variant (MoH) weighs each head's output by the token's gates, read from the attention input.
        var gates = Spec.Attention is { } variant && x.dim() == 3 ? variant.HeadGates(Spec, w, x, l, Routing) : null;
        if (gates is null && x.dim() == 4 && Spec.Attention?.LayerTensors(Spec).Any() == true)
            throw new HeadWiseException($"an edited hook_attn_in gives each head its own input; {Spec.Attention.Kind} attention routes on one input per token and does not support it");
        x = ToCompute(x); // once for q, k and v
        var (q, k, v) = x.dim() == 4 ? PerHeadProjections(w, x)
            : (Linear(x, w.Wq, w.Bq).view(b, t, h, hd), Linear(x, w.Wk, w.Bk).view(b, t, kvh, hd), Linear(x, w.Wv, w.Bv).view(b, t, kvh, hd));
        q = Hook(hooks, names.Q, q);
        k = Hook(hooks, names.K, k);
        v = Hook(hooks, names.V, v);
        if (w.QNorm is not null) { q = RmsNorm(q, w.QNorm); k = RmsNorm(k, w.KNorm!); }
        q = q.transpose(1, 2); // [B, H, T, d]
        k = k.transpose(1, 2);
        v = v.transpose(1, 2);
        if (_rope is not null)
        {
            // Rotated in float32 (the complex product), then back to the compute dtype for attention and the cache.
            q = _rope.Apply(Float(q), start);
            k = _rope.Apply(Float(k), start);
        }
        q = ToCompute(HookHeadsFirst(hooks, names.RotQ, q));
        k = ToCompute(HookHeadsFirst(hooks, names.RotK, k));
        v = ToCompute(v);
        // The one cache seam: the cache stores what its policy keeps and attends over it; without one, over this call's tokens.
        var z = step.Cache is { } cache ? cache.Attend(l, q, k, v, step.Attention) : step.Attention.Attend(l, q, k, v); // [B, H, T, d]
        z = z.transpose(1, 2); // [B, T, H, d]
        if (gates is not null) z = z.mul(gates.unsqueeze(-1).to(z.dtype));
        z = Hook(hooks, names.Z, z);
        if (hooks is not null && hooks.Wants(names.Result))
        {
            // Each head's own contribution z_h W_O[:, h]: [B, T, H, D]; summing over heads gives the attention output.
            var wo = w.Wo.view(Spec.Dim, h, hd);
            var result = torch.einsum("bthd,mhd->bthm", z.to(wo.dtype), wo);
            var edited = Hook(hooks, names.Result, result);
            if (!AttentionKernel.Unchanged(edited, result))
            {
                var sum = Float(edited.sum(2));
                return w.Bo is null ? sum : sum.Plus(w.Bo);
            }
            // Observation only: the unobserved run's numbers (a sum over heads rounds differently).
        }
        return Linear(z.reshape(b, t, h * hd), w.Wo, w.Bo);
    }

    /// <summary>
    /// q, k, v from per-query-head inputs [B, T, H, D] (an edited hook_attn_in): head h's query reads copy h; KV head g's
    /// keys and values read the copy of the first query head of its group.
    /// </summary>
    private (Tensor Q, Tensor K, Tensor V) PerHeadProjections(LayerWeights w, Tensor x)
    {
        int h = Spec.Heads, kvh = Spec.KvHeads, hd = Spec.HeadDim, d = Spec.Dim;
        var kvInput = x.index_select(2, torch.arange(0, h, Spec.GroupSize, dtype: ScalarType.Int64)); // [B, T, K, D]
        Tensor Project(Tensor input, Tensor weight, Tensor? bias, int heads)
        {
            var y = torch.einsum("bthm,hdm->bthd", input.to(weight.dtype), weight.view(heads, hd, d));
            return bias is null ? y : y.Plus(bias.view(heads, hd));
        }
        return (Project(x, w.Wq, w.Bq, h), Project(kvInput, w.Wk, w.Bk, kvh), Project(kvInput, w.Wv, w.Bv, kvh));
    }

    private Tensor FeedForward(LayerWeights w, Tensor x, HookNames.Layer names, IForwardHooks? hooks)
    {
        x = ToCompute(x);
        if (Spec.FeedForward == FeedForwardKind.SwiGlu)
        {
            var gate = Hook(hooks, names.MlpPre, Linear(x, w.WGate!, w.BGate));
            var linear = Linear(x, w.WUp, w.BUp);
            var glu = FusedDecode.OneRow(gate, Spec.FfnDim) && FusedDecode.OneRow(linear, Spec.FfnDim) ? FusedDecode.SwiGlu(gate, linear) : F.silu(gate).mul_(linear);
            return Linear(Hook(hooks, names.MlpPost, glu), w.WDown, w.BDown);
        }
        var up = Hook(hooks, names.MlpPre, Linear(x, w.WUp, w.BUp));
        var act = Spec.FeedForward == FeedForwardKind.GeluTanh ? F.gelu(up, TorchSharp.Modules.GELU.Approximate.tanh) : F.gelu(up);
        return Linear(Hook(hooks, names.MlpPost, act), w.WDown, w.BDown);
    }

    /// <summary>x W^T + b with x rounded as ggml's CPU backend would for this weight's stored type (only under
    /// <see cref="ActivationRounding.Ggml"/>) and cast to the weight's dtype (bf16 decode steps: float32 out); a float32 bias on 16-bit weights is added after, in float32.</summary>
    private Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        if (Weights.GgmlProductFor(weight) is { } ggml)
        {
            var p = ggml.Linear(x, weight);
            return bias is null ? p : p.Plus(bias);
        }
        if (DecodeGemv.Applies(x, weight))
        {
            // Decode-sized products: float32 outputs (see DecodeGemv), then the bias in float32.
            var y = DecodeGemv.Linear(x, weight);
            return bias is null ? y : y.Plus(bias);
        }
        if (x.dtype != weight.dtype) x = x.to(weight.dtype);
        return bias is null || bias.dtype == weight.dtype ? F.linear(x, weight, bias) : F.linear(x, weight).Plus(bias);
    }

    private Tensor ToCompute(Tensor x) => x.dtype == _compute ? x : x.to(_compute);
    private static Tensor Float(Tensor x) => x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);

    private Tensor Norm(Tensor x, Tensor weight, Tensor? bias) =>
        Spec.Norm == NormKind.RmsNorm ? RmsNorm(x, weight) : F.layer_norm(Float(x), [x.shape[^1]], weight, bias, Spec.NormEps);

    /// <summary>
    /// A norm whose scale and normalised value hooks can read or edit (TransformerLens's ln hook_scale, hook_normalized):
    /// scale = sqrt(mean(c^2) + eps) with c the input (centred for LayerNorm), normalised = c / scale, output = normalised
    /// times the gain (plus bias). Observation keeps the fused kernel's numbers.
    /// </summary>
    private Tensor Norm(Tensor x, Tensor weight, Tensor? bias, IForwardHooks? hooks, string scaleName, string normalizedName)
    {
        var fused = Norm(x, weight, bias);
        if (hooks is null || !(hooks.Wants(scaleName) || hooks.Wants(normalizedName))) return fused;
        x = Float(x);
        var centred = Spec.Norm == NormKind.RmsNorm ? x : x.sub(x.mean([-1], keepdim: true));
        var scale = centred.pow(HeldScalars.Two).mean([-1], keepdim: true).add_(_normEps, HeldScalars.One).sqrt_();
        var scaleOut = Hook(hooks, scaleName, scale);
        var normalized = centred.div(scaleOut);
        var normalizedOut = Hook(hooks, normalizedName, normalized);
        if (AttentionKernel.Unchanged(scaleOut, scale) && AttentionKernel.Unchanged(normalizedOut, normalized)) return fused;
        var y = normalizedOut.mul(weight);
        return bias is null ? y : y.Plus(bias);
    }

    /// <summary>In float32 whatever the input's dtype.</summary>
    private Tensor RmsNorm(Tensor x, Tensor weight)
    {
        x = Float(x);
        if (FusedDecode.OneRow(x, Spec.Dim) && FusedDecode.OneRow(weight, Spec.Dim)) return FusedDecode.RmsNorm(x, weight, _normEpsF);
        // In place where autograd allows it: every op here costs microseconds of overhead on a decode step's one token.
        var r = x.pow(HeldScalars.Two).mean([-1], keepdim: true).add_(_normEps, alpha: HeldScalars.One).rsqrt_();
        var y = x * r;
        return torch.is_grad_enabled() ? y * weight : y.mul_(weight);
    }

    /// <summary>
    /// Runs the hook on a float32 view of x. A hook that returns its input leaves x itself (the unobserved run's
    /// tensor), except under autograd on a 16-bit x: then the forward goes on from the float32 view cast back (the same
    /// values), so that gradients reach the tensor the hook saw (a score that reads a hook point's gradient). An edit
    /// comes back in x's dtype.
    /// </summary>
    private static Tensor Hook(IForwardHooks? hooks, string name, Tensor x)
    {
        if (hooks is null || !hooks.Wants(name)) return x;
        var f = Float(x);
        var y = hooks.Apply(name, f);
        if (ReferenceEquals(y, f)) return ReferenceEquals(f, x) || !x.requires_grad ? x : f.to(x.dtype);
        return y.dtype == x.dtype ? y : y.to(x.dtype);
    }

    /// <summary>Hooks see [B, T, H, d]; the attention math holds [B, H, T, d].</summary>
    private static Tensor HookHeadsFirst(IForwardHooks? hooks, string name, Tensor x) =>
        hooks is not null && hooks.Wants(name) ? Hook(hooks, name, x.transpose(1, 2)).transpose(1, 2) : x;

    /// <summary>Frees the weights and RoPE tables.</summary>
    public void Dispose()
    {
        _rope?.Dispose();
        _scale.Dispose();
        _normEps.Dispose();
    }
}
