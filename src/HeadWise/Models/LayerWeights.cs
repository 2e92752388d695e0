using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>
/// One block's parameters by their local canonical names (attn_q.weight, ...; see <see cref="TensorLayout"/>). The
/// properties name what the forward pass uses; a tensor the family does not have is null.
/// </summary>
public sealed class LayerWeights
{
    private readonly Dictionary<string, Tensor> _tensors;

    public LayerWeights(IEnumerable<KeyValuePair<string, Tensor>> tensors) => _tensors = new(tensors, StringComparer.Ordinal);

    /// <summary>Every tensor of the block by local name, in a fixed order (the one checkpoints are saved in).</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    private Tensor? Get(string name) => _tensors.GetValueOrDefault(name);
    private Tensor Need(string name) => _tensors.TryGetValue(name, out var t) ? t : throw new InvalidOperationException($"layer has no {name}");

    public Tensor? AttnNorm => Get("attn_norm.weight");
    public Tensor? AttnNormBias => Get("attn_norm.bias");
    public Tensor Wq => Need("attn_q.weight");
    public Tensor Wk => Need("attn_k.weight");
    public Tensor Wv => Need("attn_v.weight");
    public Tensor Wo => Need("attn_output.weight");
    public Tensor? Bq => Get("attn_q.bias");
    public Tensor? Bk => Get("attn_k.bias");
    public Tensor? Bv => Get("attn_v.bias");
    public Tensor? Bo => Get("attn_output.bias");
    /// <summary>Qwen3 per-head RMSNorm weights [head_dim].</summary>
    public Tensor? QNorm => Get("attn_q_norm.weight");
    public Tensor? KNorm => Get("attn_k_norm.weight");
    /// <summary>Post-norm (BERT): LayerNorm after the attention residual.</summary>
    public Tensor? AttnOutputNorm => Get("attn_output_norm.weight");
    public Tensor? AttnOutputNormBias => Get("attn_output_norm.bias");
    public Tensor? FfnNorm => Get("ffn_norm.weight");
    public Tensor? FfnNormBias => Get("ffn_norm.bias");
    public Tensor? WGate => Get("ffn_gate.weight");
    public Tensor? BGate => Get("ffn_gate.bias");
    public Tensor WUp => Need("ffn_up.weight");
    public Tensor? BUp => Get("ffn_up.bias");
    public Tensor WDown => Need("ffn_down.weight");
    public Tensor? BDown => Get("ffn_down.bias");
    /// <summary>Post-norm (BERT): LayerNorm after the feed-forward residual.</summary>
    public Tensor? LayerOutputNorm => Get("layer_output_norm.weight");
    public Tensor? LayerOutputNormBias => Get("layer_output_norm.bias");

    public IEnumerable<Tensor> All() => _tensors.Values;

    /// <summary>The same block with every tensor mapped (a dtype cast, a copy).</summary>
    public LayerWeights Select(Func<string, Tensor, Tensor> map) => new(_tensors.Select(kv => KeyValuePair.Create(kv.Key, map(kv.Key, kv.Value))));
}
