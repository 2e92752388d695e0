using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace HeadWise.Models.Variants;

/// <summary>
/// A switch of the attention layer that a model is trained with (issue 20), one small record per variant, as a kvpress
/// press is a dataclass of parameters and one method: <see cref="Weights"/> replaces softmax, <see cref="HeadGates"/>
/// weighs each head's output, <see cref="LayerTensors"/> adds parameters. A model without a variant (null) is standard
/// softmax multi-head or grouped-query attention. Adding a variant is one record and one <c>JsonDerivedType</c> line
/// below, which is also its name in training configs and in config.json ("headwise_attention": {"kind": ..}).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization)]
[JsonDerivedType(typeof(SparseQueryAttention), "sqa")]
[JsonDerivedType(typeof(MixtureOfHeads), "moh")]
[JsonDerivedType(typeof(SigmoidAttention), "sigmoid")]
[JsonDerivedType(typeof(LinearAttention), "linear")]
[JsonDerivedType(typeof(MagnitudeAwareLinearAttention), "mala")]
public abstract record AttentionVariant
{
    private static readonly JsonDerivedTypeAttribute[] Derived =
        typeof(AttentionVariant).GetCustomAttributes(typeof(JsonDerivedTypeAttribute), false).Cast<JsonDerivedTypeAttribute>().ToArray();

    /// <summary>Every kind a config may name (the JsonDerivedType ids above).</summary>
    public static readonly IReadOnlyList<string> Kinds = Derived.Select(d => (string)d.TypeDiscriminator!).ToArray();

    /// <summary>The kind's name, as configs write it.</summary>
    [JsonIgnore] public string Kind => (string)Derived.Single(d => d.DerivedType == GetType()).TypeDiscriminator!;

    /// <summary>llama.cpp's "llama" architecture computes this attention, so a GGUF export is faithful.</summary>
    [JsonIgnore] public virtual bool LlamaCppReadable => false;

    /// <summary>
    /// The attention weights are softmax probabilities over the keys. KV policies that score or evict keys by softmax
    /// attention (every policy but the full cache), and sparse prefill, assume it.
    /// </summary>
    [JsonIgnore] public virtual bool SoftmaxWeights => true;

    /// <summary>What is wrong with these settings for <paramref name="spec"/>, one line per problem (empty: valid).</summary>
    public abstract IEnumerable<string> Problems(ModelSpec spec);

    /// <summary>
    /// Attention weights [B, H, T, S] in float32 of queries q [B, H, T, d] over keys k [B, H, S, d] (already repeated
    /// to the query heads), zero where <paramref name="allowed"/> (bool [T, S] or [.., T, S], null: all) forbids;
    /// <paramref name="scores"/> lets the hook_attn_scores hook read or edit the pre-activation scores.
    /// Null: softmax, computed by the fused kernel.
    /// </summary>
    public virtual Tensor? Weights(ModelSpec spec, Tensor q, Tensor k, Tensor? allowed, double scale, Func<Tensor, Tensor> scores) => null;

    /// <summary>Extra parameters of each layer: local name (beside attn_q.weight), Hugging Face name under self_attn., shape.</summary>
    public virtual IEnumerable<(string Local, string Hf, long[] Shape)> LayerTensors(ModelSpec spec) => [];

    /// <summary>Per-token weights [B, T, H] of each head's output, from the attention input x [B, T, D]; null: every head weighs 1.</summary>
    public virtual Tensor? HeadGates(ModelSpec spec, LayerWeights w, Tensor x, int layer, HeadRouting? routing) => null;

    /// <summary>One line for model cards and `info`.</summary>
    public abstract string Describe(ModelSpec spec);
}
