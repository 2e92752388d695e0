using System.Text.Json.Serialization;
namespace HeadWise.Models.Variants;

/// <summary>
/// Sparse Query Attention (Filipek 2025): fewer query heads than the model's heads, each keeping the head size
/// dim / heads, so the score and value products (and W_Q, W_O) shrink by query_heads / heads. Key/value heads are the
/// config's kv_heads (0: as many as query heads). The attention itself is softmax: only the shapes change, and
/// llama.cpp reads such a model as plain llama (GGUF attention.key_length carries the head size).
/// </summary>
public sealed record SparseQueryAttention : AttentionVariant
{
    public required int QueryHeads { get; init; }

    [JsonIgnore] public override bool LlamaCppReadable => true;

    public override IEnumerable<string> Problems(ModelSpec spec)
    {
        if (QueryHeads < 1) { yield return $"query_heads = {QueryHeads} must be at least 1"; yield break; }
        if (spec.Dim % QueryHeads != 0) yield return $"query_heads = {QueryHeads} does not divide the model's dimension {spec.Dim}";
        if (QueryHeads != spec.Heads) yield return $"query_heads = {QueryHeads} differs from the model's {spec.Heads} attention heads";
        int modelHeads = spec.HeadDim > 0 ? spec.Dim / spec.HeadDim : 0;
        if (QueryHeads > modelHeads) yield return $"query_heads = {QueryHeads} is more than the model's heads ({modelHeads}); SQA uses fewer";
    }

    public override string Describe(ModelSpec spec) =>
        $"Sparse Query Attention: {QueryHeads} query heads of size {spec.HeadDim} (the full model would have {spec.Dim / spec.HeadDim}), {spec.KvHeads} key/value heads";
}
