using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Steering;

/// <summary>
/// Soft injection of task embeddings (Park and Rhee, 2025): the task embedding is each head's mean output (hook_z) at the
/// last token of few-shot prompts (<see cref="TaskEmbedding"/>); at zero-shot time every head's output at the prompt's last
/// token becomes (1 - α) z + α e, with one mixing weight α in [0, 1] per head learned on a small split (<see cref="Learn"/>;
/// the model stays frozen). Injected at the last position of each forward call of more than one token (the prompt's
/// last token when the prompt goes in one call), not at generated tokens.
/// </summary>
public sealed record SoftInjection(float[][][] Embedding, float[][] Alpha) : ISteering
{
    public string Method => "inject";

    public SoftInjection Check(ModelSpec spec)
    {
        if (Embedding.Length != spec.Layers || Alpha.Length != spec.Layers)
            throw new HeadWiseException($"inject: the embedding has {Embedding.Length} layers and the weights {Alpha.Length}; the model has {spec.Layers}");
        for (int l = 0; l < spec.Layers; l++)
        {
            if (Embedding[l].Length != spec.Heads || Alpha[l].Length != spec.Heads)
                throw new HeadWiseException($"inject: layer {l} has {Embedding[l].Length} embedded heads and {Alpha[l].Length} weights; the model has {spec.Heads} heads");
            for (int h = 0; h < spec.Heads; h++)
            {
                if (Embedding[l][h].Length != spec.HeadDim || Embedding[l][h].Any(x => !float.IsFinite(x)))
                    throw new HeadWiseException($"inject: head {l}.{h}'s embedding must be {spec.HeadDim} finite numbers");
                SteeringChecks.Fraction(Alpha[l][h], $"weight of head {l}.{h}", Method, zeroAllowed: true);
            }
        }
        return this;
    }

    public void Register(HookSet hooks)
    {
        for (int l = 0; l < Embedding.Length; l++)
        {
            if (Alpha[l].All(a => a == 0)) continue;
            // Held for the hooks' life: registering inside a dispose scope must not free them.
            var e = torch.tensor(Embedding[l].SelectMany(x => x).ToArray(), [1, 1, Embedding[l].Length, Embedding[l][0].Length]).DetachFromDisposeScope();
            var a = torch.tensor(Alpha[l], [1, 1, Alpha[l].Length, 1]).DetachFromDisposeScope();
            hooks.Add(HookNames.ForLayer(l).Z, z => Mix(z, e, a));
        }
    }

    /// <summary>z with its last position mixed toward <paramref name="e"/> by <paramref name="a"/> (a forward call of one token is left alone).</summary>
    private static Tensor Mix(Tensor z, Tensor e, Tensor a)
    {
        long t = z.shape[1];
        if (t < 2) return z;
        var last = z.narrow(1, t - 1, 1);
        return torch.cat([z.narrow(1, 0, t - 1), last.Plus(a * (e - last))], 1);
    }

    public JsonObject ToJson() => new()
    {
        ["alpha"] = new JsonArray([.. Alpha.Select(r => (JsonNode)new JsonArray([.. r.Select(x => (JsonNode)x)]))]),
        ["embedding"] = new JsonArray([.. Embedding.Select(l => (JsonNode)new JsonArray([.. l.Select(h => (JsonNode)new JsonArray([.. h.Select(x => (JsonNode)x)]))]))]),
    };

    /// <summary>Each head's hook_z at the last token, averaged over <paramref name="fewShotPrompts"/>: [layer][head][d].</summary>
    public static float[][][] TaskEmbedding(Transformer model, IReadOnlyList<int[]> fewShotPrompts)
    {
        if (fewShotPrompts.Count == 0) throw new HeadWiseException("inject: no few-shot prompts to build the task embedding from");
        var spec = model.Spec;
        var sum = new double[spec.Layers, spec.Heads, spec.HeadDim];
        foreach (var prompt in fewShotPrompts)
        {
            using var scope = torch.NewDisposeScope();
            var hooks = new HookSet();
            var last = new Tensor[spec.Layers];
            for (int l = 0; l < spec.Layers; l++)
            {
                int layer = l;
                hooks.Add(HookNames.ForLayer(l).Z, z => { last[layer] = z[0, -1].clone().MoveToOuterDisposeScope(); return z; });
            }
            using (torch.no_grad()) model.Forward(torch.tensor(prompt.Select(t => (long)t).ToArray(), [1, prompt.Length]), null, hooks, lastOnly: true);
            for (int l = 0; l < spec.Layers; l++)
            {
                var v = last[l].to_type(ScalarType.Float64).data<double>().ToArray();
                for (int h = 0; h < spec.Heads; h++)
                    for (int d = 0; d < spec.HeadDim; d++) sum[l, h, d] += v[h * spec.HeadDim + d];
            }
        }
        return [.. Enumerable.Range(0, spec.Layers).Select(l => Enumerable.Range(0, spec.Heads)
            .Select(h => Enumerable.Range(0, spec.HeadDim).Select(d => (float)(sum[l, h, d] / fewShotPrompts.Count)).ToArray()).ToArray())];
    }

    /// <summary>
    /// Learns the mixing weights on <paramref name="examples"/> (zero-shot prompt, the answer's first token): Adam on the
    /// cross-entropy of that token at the prompt's last position, weights clamped to [0, 1] after each step, starting at 0.
    /// Only the weights take gradients.
    /// </summary>
    public static SoftInjection Learn(Transformer model, float[][][] embedding, IReadOnlyList<(int[] Prompt, int Answer)> examples, LearnOptions? options = null)
    {
        var o = options ?? new LearnOptions();
        if (examples.Count == 0) throw new HeadWiseException("inject: no examples to learn the head weights on");
        var spec = model.Spec;
        torch.manual_seed(o.Seed);
        using var alpha = new TorchSharp.Modules.Parameter(torch.zeros(spec.Layers, spec.Heads));
        var e = torch.tensor(embedding.SelectMany(l => l.SelectMany(h => h)).ToArray(), [spec.Layers, 1, 1, spec.Heads, spec.HeadDim]);
        var hooks = new HookSet();
        for (int l = 0; l < spec.Layers; l++)
        {
            int layer = l;
            hooks.Add(HookNames.ForLayer(l).Z, z => Mix(z, e[layer], alpha[layer].view(1, 1, spec.Heads, 1)));
        }
        using var opt = torch.optim.Adam([alpha], o.LearningRate);
        var order = Enumerable.Range(0, examples.Count).ToArray();
        var rng = new Random(o.Seed);
        for (int epoch = 0; epoch < o.Epochs; epoch++)
        {
            rng.Shuffle(order);
            foreach (int i in order)
            {
                using var scope = torch.NewDisposeScope();
                var (prompt, answer) = examples[i];
                opt.zero_grad();
                var logits = model.Forward(torch.tensor(prompt.Select(t => (long)t).ToArray(), [1, prompt.Length]), null, hooks, lastOnly: true);
                var loss = F.cross_entropy(logits.view(1, -1), torch.tensor(new long[] { answer }));
                loss.backward();
                opt.step();
                using (torch.no_grad()) alpha.clamp_(HeldScalars.Zero, HeldScalars.One);
            }
        }
        var a = alpha.detach().data<float>().ToArray();
        return new SoftInjection(embedding, [.. Enumerable.Range(0, spec.Layers).Select(l => a.Skip(l * spec.Heads).Take(spec.Heads).ToArray())]);
    }

    /// <summary>How the weights are learned (HeadWise's settings; see docs/fidelity.md).</summary>
    public sealed record LearnOptions
    {
        public double LearningRate { get; init; } = 0.1;
        public int Epochs { get; init; } = 5;
        public int Seed { get; init; } = 1;
        /// <summary>Few-shot prompts the task embedding averages over (the paper's M).</summary>
        public int Prompts { get; init; } = 50;
        /// <summary>Demonstrations per few-shot prompt (the paper's N); fewer when they do not fit the context.</summary>
        public int Shots { get; init; } = 10;

        private static readonly LearnOptions Default = new();

        public static readonly IReadOnlyList<SteeringParams.Key> Keys =
        [
            new("prompts", $"few-shot prompts averaged into the task embedding ({Default.Prompts})", 1, 10_000, Integer: true),
            new("shots", $"demonstrations per few-shot prompt, at most what fits the context ({Default.Shots})", 1, 100, Integer: true),
            new("epochs", $"passes over the dev split while learning the weights ({Default.Epochs})", 1, 1000, Integer: true),
            new("lr", $"Adam's learning rate for the weights ({Default.LearningRate})", 0, 10, MinExclusive: true),
        ];

        public static LearnOptions Parse(string? text)
        {
            var p = SteeringParams.Parse("inject", text, Keys);
            var d = Default;
            return d with
            {
                Prompts = (int)p.Get("prompts", d.Prompts), Shots = (int)p.Get("shots", d.Shots),
                Epochs = (int)p.Get("epochs", d.Epochs), LearningRate = p.Get("lr", d.LearningRate),
            };
        }
    }
}
