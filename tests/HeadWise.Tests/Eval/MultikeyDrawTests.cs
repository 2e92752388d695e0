using HeadWise.Eval.Tasks;
using HeadWise.Prompts;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivors in MultikeyTask): a multikey prompt draws, from its cell's generator and in this order,
/// exactly as many distinct key names as it has keys (adjective, then noun), as many distinct values, then one random
/// depth per distractor; the asked needle (the first) sits at the asked depth and the question asks for its key.
/// Replayed here from a generator with the same seed (seed 11 draws no repeated name or value, checked below).
/// </summary>
public class MultikeyDrawTests
{
    [Fact]
    public void Multikey_draws_its_keys_values_and_distractor_depths_in_order()
    {
        var prompt = new MultikeyTask(keys: 4).Make(new Random(11), 0.4);

        var rng = new Random(11);
        var adj = PromptWording.EvaluationKeyAdjectives;
        var nouns = PromptWording.EvaluationKeyNouns;
        var names = Enumerable.Range(0, 4).Select(_ => $"{adj[rng.Next(adj.Count)]}-{nouns[rng.Next(nouns.Count)]}").ToArray();
        var values = Enumerable.Range(0, 4).Select(_ => rng.Next(1_000_000, 10_000_000).ToString()).ToArray();
        var depths = Enumerable.Range(0, 3).Select(_ => rng.NextDouble()).ToArray();
        Assert.Equal(4, names.Distinct().Count());
        Assert.Equal(4, values.Distinct().Count());

        Assert.Equal(values[0], prompt.Answer);
        Assert.Contains(names[0], prompt.Question);
        Assert.Equal([0.4, .. depths], prompt.Needles.Select(n => n.Depth));
        for (int i = 0; i < 4; i++)
        {
            Assert.Contains(names[i], prompt.Needles[i].Text);
            Assert.Contains(values[i], prompt.Needles[i].Text);
        }
    }
}
