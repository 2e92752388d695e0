using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;

namespace HeadWise.Tests.KvCache;

/// <summary>A selective cache that keeps every position must give the full cache's logits, call by call.</summary>
internal static class FullCacheParity
{
    /// <summary>Feeds <paramref name="tokens"/> in calls of <paramref name="steps"/> tokens through a full cache and
    /// through <paramref name="cache"/>; each call's logits agree to 1e-5 of the largest |logit| (at least 1). Returns the full cache's bytes at the end.</summary>
    public static long AssertFollowsFull(Transformer model, long[] tokens, int[] steps, IKvCache cache)
    {
        using var full = new FullKvCache(model.Spec);
        int start = 0;
        foreach (var t in steps)
        {
            using var ids = torch.tensor(tokens[start..(start + t)], [1, t]);
            using var a = model.Forward(ids, full);
            using var b = model.Forward(ids, cache);
            float diff = (a - b).abs().max().item<float>(), size = Math.Max(1, a.abs().max().item<float>());
            Assert.True(diff <= 1e-5f * size, $"step at {start} (+{t}): max diff {diff}, max |logit| {size}");
            start += t;
        }
        return full.Bytes;
    }
}
