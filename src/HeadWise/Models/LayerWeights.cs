using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>One block's parameters. Optional members are null where the family has no such tensor.</summary>
public sealed class LayerWeights
{
    public required Tensor AttnNorm { get; init; }
    public Tensor? AttnNormBias { get; init; }
    public required Tensor Wq { get; init; }
    public required Tensor Wk { get; init; }
    public required Tensor Wv { get; init; }
    public required Tensor Wo { get; init; }
    public Tensor? Bq { get; init; }
    public Tensor? Bk { get; init; }
    public Tensor? Bv { get; init; }
    public Tensor? Bo { get; init; }
    /// <summary>Qwen3 per-head RMSNorm weights [head_dim].</summary>
    public Tensor? QNorm { get; init; }
    public Tensor? KNorm { get; init; }
    /// <summary>For post-norm (BERT) blocks this is the LayerNorm after the attention residual; otherwise the pre-FFN norm.</summary>
    public required Tensor FfnNorm { get; init; }
    public Tensor? FfnNormBias { get; init; }
    public Tensor? WGate { get; init; }
    public required Tensor WUp { get; init; }
    public Tensor? BUp { get; init; }
    public required Tensor WDown { get; init; }
    public Tensor? BDown { get; init; }
    /// <summary>BERT: LayerNorm after the FFN residual.</summary>
    public Tensor? OutNorm { get; init; }
    public Tensor? OutNormBias { get; init; }

    public IEnumerable<Tensor> All()
    {
        foreach (var t in new[] { AttnNorm, AttnNormBias, Wq, Wk, Wv, Wo, Bq, Bk, Bv, Bo, QNorm, KNorm, FfnNorm, FfnNormBias,
                     WGate, WUp, BUp, WDown, BDown, OutNorm, OutNormBias })
            if (t is not null) yield return t;
    }
}
