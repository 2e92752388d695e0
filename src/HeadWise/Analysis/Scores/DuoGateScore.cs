using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// DuoAttention's learned gates (Xiao et al. 2024), trained as the paper trains them (<see cref="DuoGateTraining"/>).
/// Each KV head has a gate a in [0, 1] that mixes the output of its full attention with that of streaming attention
/// (the first <c>sinks</c> keys and the last <c>recent</c>), z = a z_full + (1 - a) z_stream, in every layer at once.
/// The gates alone are optimised on DuoAttention's synthetic multi-passkey data to keep the final hidden states of the
/// full model (mean squared error over the question-and-answer tokens) with an L1 push toward streaming; they are
/// clamped to [0, 1] after each step. The streaming pattern is recorded with the gates (params <c>sinks</c>,
/// <c>recent</c>) so that <c>duo</c> deploys the pattern it was trained with. The haystack is the probe text.
/// The map repeats each KV head's gate over its query heads; the params hold the gates per KV head, the whole
/// training record and the loss curve.
/// </summary>
public sealed class DuoGateScore(DuoGateTraining? training = null) : IHeadScore
{
    public DuoGateTraining Training { get; } = training ?? new DuoGateTraining();
    public string Name => "duo-gate";
    public string? Unsupported(ModelSpec spec) => spec.Causal ? null : "needs causal streaming attention (decoder models only)";

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        var (gates, curve) = Optimise(ctx);
        int group = ctx.Spec.GroupSize;
        var values = gates.Select(row => Enumerable.Range(0, ctx.Spec.Heads).Select(h => row[h / group]).ToArray()).ToArray();
        var p = Training.ToJson(ctx.Spec.ContextLength);
        p["haystack"] = "probe documents";
        p["kv_gates"] = new JsonArray(gates.Select(r => (JsonNode)new JsonArray(r.Select(v => (JsonNode)v).ToArray())).ToArray());
        p["loss_curve"] = new JsonArray(curve.Select(v => (JsonNode)v).ToArray());
        return [new HeadMap(Name, values, p)];
    }

    /// <summary>Learned gates [layer][kv head] and the loss after each step.</summary>
    public (double[][] Gates, double[] Loss) Optimise(ProfileContext ctx)
    {
        var t = Training;
        int layers = ctx.Spec.Layers, kv = ctx.Spec.KvHeads, group = ctx.Spec.GroupSize;
        torch.manual_seed(ctx.Seed);
        var data = new DuoTrainingData(ctx.Tokenizer is { } tok ? s => tok.Encode(s, false).ToArray() : null, ctx.Tokenizer?.BosId,
            Haystack(ctx), t, ctx.Spec.ContextLength, ctx.Spec.VocabSize, ctx.Seed);
        using var gate = new TorchSharp.Modules.Parameter(torch.full(layers, kv, t.InitialGate));
        Tensor? mask = null; // this step's [T, T] streaming mask (true: attend), read by the hooks
        var gated = ctx.NewHooks();
        for (int l = 0; l < layers; l++)
        {
            int layer = l;
            var names = HookNames.ForLayer(l);
            Tensor? q = null, k = null, v = null;
            // Observe this layer's queries, keys (after RoPE) and values, then mix its head outputs as DuoAttention does:
            // z = a z_full + (1 - a) z_stream, the full output being the one the forward pass computed.
            gated.Add(names.RotQ, x => q = x).Add(names.RotK, x => k = x).Add(names.V, x => v = x);
            gated.Add(names.Z, z =>
            {
                var kh = k!.transpose(1, 2).repeat_interleave(group, 1);
                var vh = v!.transpose(1, 2).repeat_interleave(group, 1);
                var stream = F.scaled_dot_product_attention(q!.transpose(1, 2), kh, vh, mask).transpose(1, 2); // [B, T, H, d]
                var a = gate.select(0, layer).repeat_interleave(group).view(1, 1, -1, 1);
                return stream.Plus(a * (z - stream)); // a z_full + (1 - a) z_stream
            });
        }
        using var opt = torch.optim.AdamW([gate], t.LearningRate, weight_decay: 0);
        using Scalar l1 = t.L1; // held for the whole loop: see HeldScalars
        var curve = new double[t.Steps];
        for (int s = 0; s < t.Steps; s++)
        {
            using var scope = torch.NewDisposeScope();
            var sample = data.Next();
            var ids = torch.tensor(sample.Tokens, [1, sample.Tokens.Length]);
            long len = sample.Tokens.Length, answers = len - sample.AnswersFrom;
            mask = StreamingMask(len, t.Sinks, t.Recent);
            Tensor target;
            using (torch.no_grad()) target = Answers(ctx.Model, ids, ctx.NewHooks(), sample.AnswersFrom, answers);
            foreach (var g in opt.ParamGroups) g.LearningRate = t.LearningRateAt(s);
            opt.zero_grad();
            var h = Answers(ctx.Model, ids, gated.Copy(), sample.AnswersFrom, answers);
            var loss = (h - target).pow(HeldScalars.Two).mean().Plus(gate.abs().mean().mul(l1));
            loss.backward();
            opt.step();
            using (torch.no_grad()) gate.clamp_(HeldScalars.Zero, HeldScalars.One);
            curve[s] = loss.item<float>();
            // Every 50 steps, as DuoAttention saves its pattern: the loss and the gates so far (a long run can be read as it goes).
            if (s % 50 == 0 || s == t.Steps - 1)
                ctx.Progress($"duo-gate: step {s + 1}/{t.Steps} ({len} tokens) loss {curve[s]:g4} gates " +
                             string.Join(" | ", gate.detach().data<float>().ToArray().Chunk(kv).Select(r => string.Join(" ", r.Select(g => g.ToString("F2"))))));
        }
        var gv = gate.detach().to_type(ScalarType.Float64).data<double>().ToArray();
        return (Enumerable.Range(0, layers).Select(l => gv.Skip(l * kv).Take(kv).ToArray()).ToArray(), curve);
    }

    /// <summary>The final normalised hidden states [1, n, D] of the last <paramref name="n"/> positions (the answers).</summary>
    private static Tensor Answers(Transformer model, Tensor ids, HookSet hooks, int from, long n)
    {
        Tensor? h = null;
        hooks.Add(HookNames.FinalNormalized, x => { h = x.narrow(1, from, n).MoveToOuterDisposeScope(); return x; });
        using (model.Forward(ids, null, hooks, lastOnly: false)) { }
        return h!;
    }

    /// <summary>The probe documents without their BOS, end to end: the book the needles are hidden in.</summary>
    internal static int[] Haystack(ProfileContext ctx)
    {
        int? bos = ctx.Tokenizer?.BosId;
        return ctx.Probes.SelectMany(p => bos is { } b && p.Length > 0 && p[0] == b ? p.Skip(1) : p).ToArray();
    }

    /// <summary>[T, T], true where a streaming head may look: the first <paramref name="sinks"/> keys and the last <paramref name="recent"/> (itself included).</summary>
    internal static Tensor StreamingMask(long t, int sinks, int recent)
    {
        using Scalar s = sinks, r = recent;
        var q = torch.arange(t).unsqueeze(1);
        var k = torch.arange(t).unsqueeze(0);
        return k.lt(s).logical_or((q - k).lt(r)).logical_and(k.le(q));
    }
}
