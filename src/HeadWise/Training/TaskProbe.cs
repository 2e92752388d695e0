using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Training;

/// <summary>Accuracy of one task at one length: samples fully right (every answer token) and answer tokens right.</summary>
public sealed record ProbeResult(string Task, int Length, int Samples, double SampleAccuracy, double TokenAccuracy);

/// <summary>
/// A quick greedy check during and after training, on tasks built from held-out text with their own seed.
/// Greedy decoding emits the answer exactly when, with the right answer prefix fed in, the arg-max at each answer
/// position is the next answer token, so one teacher-forced forward pass per sample decides it (no decoding loop).
/// </summary>
internal sealed class TaskProbe
{
    private readonly LongContextTasks _tasks;
    private readonly int _seed;

    /// <param name="heldOutTasks">Tasks over held-out text.</param>
    public TaskProbe(LongContextTasks heldOutTasks, int seed) { _tasks = heldOutTasks; _seed = seed; }

    /// <summary>Null when the task does not fit in <paramref name="length"/> tokens.</summary>
    public ProbeResult? Run(Transformer model, SampleKind kind, int length, int samples, NeedleStyle style = NeedleStyle.MagicNumber)
    {
        int right = 0; long tokensRight = 0, tokens = 0;
        for (int i = 0; i < samples; i++)
        {
            var rng = new Random(_seed * 7_919 + i * 31 + (int)kind);
            var s = _tasks.Make(kind, rng, length, style);
            if (s is null) return null;
            using var scope = torch.NewDisposeScope();
            using var _ = torch.no_grad();
            var input = torch.tensor(s.Tokens[..^1].Select(t => (long)t).ToArray(), [1, length - 1]);
            var predicted = model.Forward(input).argmax(-1).reshape(-1).data<long>().ToArray();
            bool all = true;
            foreach (int t in s.AnswerPositions())
            {
                tokens++;
                if (predicted[t] == s.Tokens[t + 1]) tokensRight++; else all = false;
            }
            if (all) right++;
        }
        var name = kind == SampleKind.Niah ? $"niah-{StyleName(style)}" : kind.ToString().ToLowerInvariant();
        return new ProbeResult(name, length, samples, (double)right / samples, tokens == 0 ? 0 : (double)tokensRight / tokens);
    }

    public static string StyleName(NeedleStyle style) => style switch
    {
        NeedleStyle.MagicNumber => "magic-number",
        NeedleStyle.Keyed => "keyed",
        _ => "fact",
    };

    /// <summary>Mean cross-entropy per token (nats) over the first <paramref name="maxTokens"/> held-out tokens, in windows of <paramref name="window"/>.</summary>
    public static double HeldOutLoss(Transformer model, int[] heldOut, int bos, int window, int maxTokens)
    {
        double sum = 0; long n = 0;
        for (int start = 0; start + window <= Math.Min(heldOut.Length, maxTokens) + 1 && start + window <= heldOut.Length; start += window - 1)
        {
            using var scope = torch.NewDisposeScope();
            using var _ = torch.no_grad();
            // BOS then window-1 text tokens; the first text token is predicted from BOS alone.
            var ids = new long[window];
            ids[0] = bos;
            for (int i = 1; i < window; i++) ids[i] = heldOut[start + i - 1];
            var input = torch.tensor(ids[..^1], [1, window - 1]);
            var target = torch.tensor(ids[1..], [window - 1]);
            var logits = model.Forward(input).reshape(window - 1, -1);
            sum += F.cross_entropy(logits, target, reduction: nn.Reduction.Sum).item<float>();
            n += window - 1;
        }
        if (n == 0) throw new HeadWiseException($"held-out text ({heldOut.Length} tokens) is shorter than one window of {window}");
        return sum / n;
    }
}
