using HeadWise.Heads;
using HeadWise.Heads.Attribution;
using HeadWise.Heads.Interventions;
using HeadWise.Models;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace HeadWise.Tests.Heads;

/// <summary>
/// Acceptance on a real model: the heads with the largest direct attribution to a repeated name are causally important —
/// ablating the top 3 lowers the name's logit more than ablating any of 20 random triples of other heads.
/// </summary>
public class Stories260KNameHeadsTests(ITestOutputHelper output)
{
    public const string Prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside. One day, her mom said, \"";
    public const string Name = "Lily";

    [Fact]
    public void Top_attributed_heads_matter_more_than_random_heads_for_the_name()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var model = m.Transformer;
        using var scope = torch.NewDisposeScope();
        var ids = m.Tokenizer.Encode(Prompt, addBos: true);
        var tokens = torch.tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
        int name = m.Tokenizer.Encode(Prompt + Name, addBos: true)[ids.Count]; // the name's first token where the prompt continues
        var logits = model.Forward(tokens)[0, -1];
        double clean = logits[name].ToSingle();
        int top = (int)logits.argmax().ToInt64();
        output.WriteLine($"prompt tokens {ids.Count}; name '{m.Tokenizer.Decode([name])}' id {name}: logit {clean:F3}, rank {logits.gt(logits[name]).sum().ToInt64()}; top '{m.Tokenizer.Decode([top])}'");
        Assert.Equal(name, top); // the model does need the name here

        var dla = DirectLogitAttribution.Compute(model, tokens, name);
        Assert.Equal(clean, dla.Sum, 1e-4);
        var best = dla.TopHeads(3).Select(c => (c.Layer!.Value, c.Head!.Value)).ToList();
        output.WriteLine("top heads by DLA: " + string.Join(", ", dla.TopHeads(3).Select(c => $"{c.Name} {c.Value:F3}")));

        double Drop(IEnumerable<(int L, int H)> heads)
        {
            var hooks = new HookSet();
            foreach (var (l, h) in heads) hooks.Add(HeadAblation.Zero(l, h));
            return clean - model.RunWithHooks(tokens, hooks)[0, -1, name].ToSingle();
        }
        double topDrop = Drop(best);
        var others = Enumerable.Range(0, m.Spec.Layers).SelectMany(l => Enumerable.Range(0, m.Spec.Heads).Select(h => (l, h))).Except(best).ToList();
        var rng = new Random(2024);
        var randomDrops = Enumerable.Range(0, 20).Select(_ => Drop(others.OrderBy(_ => rng.Next()).Take(3).ToList())).ToList();
        output.WriteLine($"ablating top 3 lowers the name logit by {topDrop:F3}; 20 random triples: max {randomDrops.Max():F3}, mean {randomDrops.Average():F3}");
        Assert.All(randomDrops, d => Assert.True(topDrop > d, $"random triple dropped {d:F3} >= top-3 drop {topDrop:F3}"));
    }
}
