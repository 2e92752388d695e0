using HeadWise.Models;
using static TorchSharp.torch;

namespace HeadWise.KvCache;

/// <summary>
/// The one KV-cache seam of the forward pass. <see cref="Transformer.Forward"/> hands every layer's new queries, keys and
/// values to the cache; the cache stores what its policy keeps and returns the attention output, computed with the
/// model's own <see cref="AttentionKernel"/> (hooks see it) or its own kernel over what each head kept.
/// Kinds: <see cref="FullKvCache"/> keeps every position in one tensor per layer (the `full` policy, everywhere);
/// <see cref="HeadWiseKvCache"/> keeps per KV head what a compressing <see cref="KvPolicy"/> keeps; a policy that keeps
/// everything but chooses per head and per step which keys are attended implements this interface itself.
/// </summary>
public interface IKvCache : IDisposable
{
    /// <summary>Positions consumed so far: the next token's position.</summary>
    long Length { get; }

    /// <summary>Bytes the kept keys and values occupy now.</summary>
    long Bytes { get; }

    /// <summary>The most bytes the kept keys and values ever occupied (a one-shot compression holds the whole context first).</summary>
    long PeakBytes { get; }

    /// <summary>
    /// The longest sequence this cache lets a rotary model run: its context length, unless the policy keeps the positions
    /// it attends within the trained range itself (LongHeads, StreamingLLM with positions in the cache).
    /// </summary>
    long MaxLength { get; }

    /// <summary>
    /// Stores this call's keys and values [1, kv_heads, T, d] (RoPE applied at positions Length..Length+T-1) for
    /// <paramref name="layer"/> and returns the attention output [1, heads, T, d] of queries <paramref name="q"/> [1, heads, T, d].
    /// </summary>
    Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, AttentionKernel attention);

    /// <summary>Called once per forward call, after every layer attended <paramref name="t"/> new positions.</summary>
    void Advance(long t);

    /// <summary>
    /// The compression point of the protocol (<see cref="CompressMode"/>): the context (or context and question) has been
    /// prefilled; a compressing cache compresses now, once. Caches that never compress, or compress after every chunk, do nothing.
    /// </summary>
    void Compress();
}
