using static TorchSharp.torch;

namespace HeadWise.KvCache;

/// <summary>What every KV cache tells its users: how far it has got and how many bytes it keeps.</summary>
public interface IKvCacheState : IDisposable
{
    /// <summary>Positions consumed so far: the next token's position.</summary>
    long Length { get; }

    /// <summary>Bytes the kept keys and values occupy.</summary>
    long Bytes { get; }
}

/// <summary>
/// A KV cache that does its own attention: what compressed, head-wise caches implement (each KV head keeps its
/// own positions, so the model cannot attend over one shared K/V tensor). <see cref="FullKvCache"/> is the
/// uncompressed case, which the model attends over itself so that hooks can see every score.
/// </summary>
public interface IKvCache : IKvCacheState
{
    /// <summary>
    /// Stores this step's keys and values [1, kv_heads, T, d] (RoPE applied) for <paramref name="layer"/> and returns the
    /// attention output [1, heads, T, d] of queries <paramref name="q"/> [1, heads, T, d] at positions Length..Length+T-1.
    /// </summary>
    Tensor Attend(int layer, Tensor q, Tensor k, Tensor v);

    /// <summary>Called once per forward after every layer attended <paramref name="t"/> new positions.</summary>
    void Advance(long t);
}
