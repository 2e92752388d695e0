using HeadWise.Models;
using HeadWise.Steering;
using HeadWise.Tests.Analysis;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Steering;

/// <summary>
/// Constructed models (learned one-hot positions, RMSNorm, no feed-forward, weights set by hand) whose answers are known,
/// for the steering methods' tests. Residual subspaces: token identity, a "copied token" subspace the unembedding reads,
/// one-hot position, a constant and a BOS flag (and, for <see cref="Task"/>, a previous-token subspace and a task flag).
/// </summary>
public static class SteeringModels
{
    public const int Layers = 2, Heads = 4;
    /// <summary>The answer head (copies the token at position 1) and the decoy (copies the token at position 2).</summary>
    public static readonly HeadRef Answer = new(0, 0), Decoy = new(0, 1);
    /// <summary>What the unembedding prefers when the answer head reads too little: '?'.</summary>
    public const char Wrong = '?';
    /// <summary>The meaningless token every query of <see cref="Answer"/> and <see cref="Decoy"/> over-attends (mid-sequence sink).</summary>
    public const char SinkToken = '.';
    public const int SinkPosition = 3;

    private const float Eps = 0.25f, Focus = 10, Logit = 10, WrongBias = 4;

    /// <summary>
    /// Answer and decoy heads attend their key (position 1 / 2) with about 0.30 / 0.32 of the last query's attention and give
    /// the rest to a sink: the first token (<paramref name="midSink"/> false) or a '.' at <see cref="SinkPosition"/>.
    /// Copying at 0.3 loses to the constant '?' logit (wrong answers); the answer head reading about half its attention
    /// from position 1 answers right; the decoy reading more than the answer head answers its own (wrong) token.
    /// </summary>
    public static Transformer SinkRetrieval(CharTokenizer tok, bool midSink, int context = 32)
    {
        Runtime.Torch.EnsureStarted();
        int v = tok.VocabSize, t = context;
        int tk = 0, copy = v, pos = 2 * v, constant = 2 * v + t, bos = constant + 1, dim = constant + 2, hd = v;
        var spec = Spec(v, t, dim, hd, "sink-retrieval");
        float score = MathF.Sqrt(hd), gain = MathF.Sqrt(3f / dim);
        var (embed, positions) = WeightMatrix.OneHotEmbeddings(tok.BosId, v, t, dim, tk, pos, constant, bos);
        int eq = Id(tok, ':'), sinkKey = midSink ? tk + Id(tok, SinkToken) : bos;
        var layers = new List<LayerWeights>();
        for (int l = 0; l < Layers; l++)
        {
            var w = new Weights(Heads * hd, dim);
            if (l == 0)
                foreach (var (head, key, share) in new[] { (Answer.Head, 1, 0.30), (Decoy.Head, 2, 0.32) })
                {
                    // The last query ('=') scores its key Focus and the sink Focus + ln((1 - share) / share); every query scores the sink.
                    w.Q[head * hd + 0, tk + eq] = Focus * score; w.K[head * hd + 0, pos + key] = 1;
                    w.Q[head * hd + 1, constant] = (Focus + (float)Math.Log((1 - share) / share)) * score; w.K[head * hd + 1, sinkKey] = 1;
                    for (int i = 0; i < v; i++) if (IsWord(tok, i)) { w.V[head * hd + i, tk + i] = 1; w.O[copy + i, head * hd + i] = Eps; }
                }
            layers.Add(w.Layer(dim, gain));
        }
        var output = new WeightMatrix(v, dim);
        for (int i = 0; i < v; i++) if (IsWord(tok, i)) output[i, copy + i] = Logit / Eps;
        output[Id(tok, Wrong), constant] = WrongBias;
        return Build(spec, embed, positions, output, layers, dim, gain);
    }

    /// <summary>BOS, the answer word, then words (with '.' at <see cref="SinkPosition"/> when <paramref name="midSink"/>), then '='.</summary>
    public static int[] RetrievalPrompt(CharTokenizer tok, int answerWord, int firstFiller, int length, bool midSink)
    {
        var ids = new List<int> { tok.BosId!.Value, tok.Word(answerWord) };
        for (int i = 0; ids.Count < length - 1; i++) ids.Add(midSink && ids.Count == SinkPosition ? Id(tok, SinkToken) : tok.Word(firstFiller + i));
        ids.Add(Id(tok, ':'));
        return [.. ids];
    }

    /// <summary>The task head (<see cref="TaskHead"/>) and the previous-token head (<see cref="LocalHead"/>) of <see cref="Task"/>.</summary>
    public static readonly HeadRef LocalHead = new(0, 0), TaskHead = new(0, 1);

    /// <summary>
    /// A task only demonstrations switch on: after "x&gt;" the model answers the next letter when the prompt holds ';'
    /// separators of "a&gt;b;" demonstrations, and '?' otherwise. <see cref="LocalHead"/> copies the previous token into a
    /// previous-token subspace; <see cref="TaskHead"/> attends uniformly and writes the share of ';' keys into a task flag;
    /// the unembedding gives next-letter logits from the previous token, and '?' a constant minus the task flag.
    /// </summary>
    public static Transformer Task(CharTokenizer tok, int context = 64)
    {
        Runtime.Torch.EnsureStarted();
        int v = tok.VocabSize, t = context;
        int tk = 0, prev = v, pos = 2 * v, constant = 2 * v + t, bos = constant + 1, task = constant + 2, dim = constant + 3, hd = v;
        var spec = Spec(v, t, dim, hd, "task");
        float score = MathF.Sqrt(hd), gain = MathF.Sqrt(3f / dim);
        var (embed, positions) = WeightMatrix.OneHotEmbeddings(tok.BosId, v, t, dim, tk, pos, constant, bos);
        var layers = new List<LayerWeights>();
        for (int l = 0; l < Layers; l++)
        {
            var w = new Weights(Heads * hd, dim);
            if (l == 0)
            {
                int h = LocalHead.Head * hd;
                for (int p = 0; p + 1 < t && p + 1 < hd; p++) { w.Q[h + p + 1, pos + p + 1] = 30 * score; w.K[h + p + 1, pos + p] = 1; }
                for (int i = 0; i < v; i++) { w.V[h + i, tk + i] = 1; w.O[prev + i, h + i] = Eps; }
                h = TaskHead.Head * hd; // no query weights: uniform attention over the prefix
                w.V[h, tk + Id(tok, ',')] = 1; w.O[task, h] = Eps;
            }
            layers.Add(w.Layer(dim, gain));
        }
        var output = new WeightMatrix(v, dim);
        foreach (char c in Letters[..^1]) output[Id(tok, Next(c)), prev + Id(tok, c)] = Logit / Eps;
        output[Id(tok, Wrong), constant] = 15;
        output[Id(tok, Wrong), task] = -50 / Eps;
        return Build(spec, embed, positions, output, layers, dim, gain);
    }

    public const string Letters = "abcdefghijklmnopqrstuvwxy";
    public static char Next(char c) => (char)(c + 1);

    /// <summary>"a&gt;b;c&gt;d;...x&gt;" with the given demonstration letters, or the zero-shot "x&gt;".</summary>
    public static int[] TaskPrompt(CharTokenizer tok, IEnumerable<char> demonstrations, char query) =>
        [.. tok.Encode(string.Concat(demonstrations.Select(c => $"{c}:{Next(c)},")) + $"{query}:", addBos: true)];

    public static int Id(CharTokenizer tok, char c) => tok.Encode(c.ToString(), addBos: false)[0];

    /// <summary>The greedy next token after <paramref name="prompt"/>.</summary>
    public static int Predict(Transformer model, int[] prompt, HeadWise.Heads.HookSet? hooks = null)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var logits = model.Forward(torch.tensor(prompt.Select(x => (long)x).ToArray(), [1, prompt.Length]), null, hooks, lastOnly: true);
        return (int)logits[0, -1].argmax().item<long>();
    }

    private static bool IsWord(CharTokenizer tok, int id) => tok.TokenLabel(id).StartsWith('w') && tok.TokenLabel(id).Length > 1;

    private static ModelSpec Spec(int v, int t, int dim, int hd, string name) => new()
    {
        Architecture = "llama", Name = name, Layers = Layers, Dim = dim, Heads = Heads, KvHeads = Heads, HeadDim = hd,
        FfnDim = 4, VocabSize = v, ContextLength = t, Positions = PositionKind.Learned,
    };

    private static Transformer Build(ModelSpec spec, WeightMatrix embed, WeightMatrix positions, WeightMatrix output, List<LayerWeights> layers, int dim, float gain) =>
        new(spec, new ModelWeights(new Dictionary<string, Tensor>
        {
            ["token_embd.weight"] = embed.Tensor(), ["position_embd.weight"] = positions.Tensor(),
            ["output_norm.weight"] = torch.full(dim, gain), ["output.weight"] = output.Tensor(),
        }, layers));

    private sealed class Weights(int rows, int dim)
    {
        public readonly WeightMatrix Q = new(rows, dim), K = new(rows, dim), V = new(rows, dim), O = new(dim, rows);

        public LayerWeights Layer(int d, float gain) => new(new Dictionary<string, Tensor>
        {
            ["attn_norm.weight"] = torch.full(d, gain), ["attn_q.weight"] = Q.Tensor(), ["attn_k.weight"] = K.Tensor(),
            ["attn_v.weight"] = V.Tensor(), ["attn_output.weight"] = O.Tensor(), ["ffn_norm.weight"] = torch.full(d, gain),
            ["ffn_gate.weight"] = torch.zeros(4, d), ["ffn_up.weight"] = torch.zeros(4, d), ["ffn_down.weight"] = torch.zeros(d, 4),
        });
    }
}
