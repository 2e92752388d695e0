using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using HeadWise.Tests.Models;
using TorchSharp;

namespace HeadWise.Tests.KvCache;

/// <summary>A selective cache that keeps every position must give the full cache's logits, call by call.</summary>
internal static class FullCacheParity
{
    /// <summary>A random GQA Llama written as GGUF (vocabulary 300, context 256) and <paramref name="count"/> token ids from
    /// <paramref name="seed"/>: the model the selective caches are compared with the full cache on.</summary>
    public static (Transformer Model, long[] Tokens) RandomGqaModel(int layers, int seed, int count)
    {
        var path = RandomLlamaGguf.Write(Path.Combine(TestPaths.NewTempDir(), "random.gguf"), new RandomLlamaConfig(Layers: layers, Vocab: 300, Context: 256));
        var rng = new Random(seed);
        return (LlamaCppParityTests.OpenGguf(path), Enumerable.Range(0, count).Select(_ => (long)rng.Next(3, 300)).ToArray());
    }

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
