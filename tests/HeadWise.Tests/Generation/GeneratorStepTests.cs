using HeadWise.Generation;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Generation;

/// <summary>
/// The decode step that writes into the caller's array (what Generate and the runtime bench loop on, so a token
/// allocates no logits array): the same logits as the allocating step from the same cache state, into the same array
/// when its length fits, into a new one when it does not.
/// </summary>
public class GeneratorStepTests
{
    [Fact]
    public void Step_into_an_array_reuses_it_and_gives_the_allocating_steps_logits()
    {
        using var loaded = ModelLoader.Load(TestPaths.Stories260KGguf);
        var gen = new Generator(loaded.Transformer);
        int[] prompt = [1, 400, 90, 31, 7];
        using var cache = new FullKvCache(loaded.Transformer.Spec, 16);
        var logits = gen.Prefill(cache, prompt);
        var reused = logits;
        var expected = new List<float[]>();
        var actual = new List<float[]>();
        for (int i = 0; i < 4; i++)
        {
            int next = Sampler.ArgMax(logits);
            expected.Add(gen.Step(cache, [next]));
            cache.Truncate(cache.Length - 1);
            gen.Step(cache, [next], ref logits);
            Assert.Same(reused, logits);
            actual.Add(logits.ToArray());
        }
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
        // Steps differ from one another: the comparison is not of four copies of one array.
        Assert.NotEqual(actual[0], actual[1]);

        float[] tooShort = new float[3];
        var kept = tooShort;
        gen.Step(cache, [5], ref tooShort);
        Assert.NotSame(kept, tooShort);
        Assert.Equal(loaded.Transformer.Spec.VocabSize, tooShort.Length);
    }
}
