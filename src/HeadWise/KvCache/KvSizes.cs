using HeadWise.Models;

namespace HeadWise.KvCache;

/// <summary>What a policy's cache holds at a given context length (from its capacities, no model run).</summary>
public static class KvSizes
{
    /// <summary>Kept positions summed over layers and KV heads once the sequence is <paramref name="length"/> long.</summary>
    public static long KeptPositions(KvPolicy policy, long length)
    {
        long n = 0;
        for (int l = 0; l < policy.Spec.Layers; l++)
            for (int h = 0; h < policy.Spec.KvHeads; h++) n += Math.Min(length, policy.Capacity(l, h, length));
        return n;
    }

    /// <summary>Bytes: kept positions x head size x 2 (K and V) x the element size of the model's compute dtype.</summary>
    public static long Bytes(KvPolicy policy, long length) =>
        KeptPositions(policy, length) * policy.Spec.HeadDim * 2 * policy.Spec.Compute.ElementSize();
}
