using HeadWise.Models;
using HeadWise.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Analysis;

/// <summary>
/// A real <see cref="Transformer"/> (3 layers of 4 heads, learned one-hot positions, RMSNorm, no feed-forward) whose weights
/// are set by hand so that each head's job is known, for scores whose answer must hold by construction:
/// <list type="bullet">
/// <item><see cref="Local"/> (0.1) attends the previous token and writes its identity into a "previous token" subspace;</item>
/// <item><see cref="Sink"/> (0.2) attends the first token (BOS) and writes nothing;</item>
/// <item><see cref="Duplicate"/> (1.3) marks, at each position, whether the token before it occurred earlier (it splits its
/// attention between those earlier occurrences, about 62%, and BOS); it attends into a needle without copying from it;</item>
/// <item><see cref="Copy"/> (2.2) is an induction head and the select-and-copy head: its query (the current token) matches
/// keys holding "the previous token was this one", so it copies what followed an earlier occurrence; with no such key it
/// prefers positions marked by <see cref="Duplicate"/>. Only its output reaches the logits.</item>
/// </list>
/// Every other head has zero weights: it attends uniformly and writes nothing.
/// The vocabulary is <see cref="CharTokenizer"/>'s: BOS, characters, and "words" that probe documents are made of.
/// </summary>
public static class ConstructedHeads
{
    public const int Layers = 3, Heads = 4;
    public static readonly (int Layer, int Head) Local = (0, 1), Sink = (0, 2), Duplicate = (1, 3), Copy = (2, 2);

    /// <summary>With <c>twinCopy</c>, a second copy head identical to <see cref="Copy"/>; each then writes half the copy.</summary>
    public static readonly (int Layer, int Head) CopyTwin = (2, 3);

    // Residual subspaces: token identity, previous token (written by Local), copied token (written by Copy, read by the
    // unembedding), one-hot position, then three single dimensions.
    private const float Eps = 0.25f; // what heads write is small, so RMSNorm scales every position about alike
    private const float Induction = 30, Select = 15, Focus = 30, Match = 10, Logit = 20;

    /// <summary>The model for a tokenizer (its vocabulary sizes the subspaces) and a context length (one dimension per position).</summary>
    public static Transformer Build(CharTokenizer tokenizer, int context = 96, bool twinCopy = false)
    {
        Runtime.Torch.EnsureStarted();
        int v = tokenizer.VocabSize, t = context;
        int tok = 0, prev = v, copy = 2 * v, pos = 3 * v, constant = 3 * v + t, bos = constant + 1, dup = constant + 2, dim = constant + 3;
        int hd = v + t + 1;
        var spec = new ModelSpec
        {
            Architecture = "llama", Name = "constructed-heads", Layers = Layers, Dim = dim, Heads = Heads, KvHeads = Heads, HeadDim = hd,
            FfnDim = 4, VocabSize = v, ContextLength = t, Positions = PositionKind.Learned,
        };
        float score = MathF.Sqrt(hd); // folds attention's 1/sqrt(d) into the query weights
        // RMSNorm gain: a position holds three unit entries (token or BOS flag, position, constant), so x / rms(x) = x sqrt(dim/3).
        float gain = MathF.Sqrt(3f / dim);

        var (embed, positions) = WeightMatrix.OneHotEmbeddings(tokenizer.BosId, v, t, dim, tok, pos, constant, bos);

        var layers = new List<LayerWeights>();
        for (int l = 0; l < Layers; l++)
        {
            var wq = new WeightMatrix(Heads * hd, dim); var wk = new WeightMatrix(Heads * hd, dim);
            var wv = new WeightMatrix(Heads * hd, dim); var wo = new WeightMatrix(dim, Heads * hd);
            int Row(int head, int i) => head * hd + i;
            if (l == Local.Layer)
            {
                int h = Local.Head;
                for (int p = 0; p + 1 < t; p++) { wq[Row(h, p + 1), pos + p + 1] = Focus * score; wk[Row(h, p + 1), pos + p] = 1; }
                for (int id = 0; id < v; id++) { wv[Row(h, id), tok + id] = 1; wo[prev + id, Row(h, id)] = Eps; }
                h = Sink.Head;
                wq[Row(h, 0), constant] = Focus * score; wk[Row(h, 0), bos] = 1;
            }
            if (l == Duplicate.Layer)
            {
                int h = Duplicate.Head;
                // Earlier occurrence of the previous token: Match; the previous token itself: Match - 2 Match; BOS: a little
                // less than Match, so a marked position splits about 62/38 between the occurrence (its argmax) and BOS.
                for (int id = 0; id < v; id++) { wq[Row(h, id), prev + id] = Match * score / Eps; wk[Row(h, id), tok + id] = 1; }
                // (Not at BOS: after position 1 the previous token is BOS, and BOS is where "no earlier occurrence" rests.)
                for (int p = 1; p + 1 < t; p++) { wq[Row(h, v + p + 1), pos + p + 1] = -2 * Match * score; wk[Row(h, v + p + 1), pos + p] = 1; }
                wq[Row(h, v + t), constant] = (Match - 0.5f) * score; wk[Row(h, v + t), bos] = 1;
                // Value 1 everywhere but BOS: the mark is the attention share on earlier occurrences.
                wv[Row(h, 0), constant] = 1; wv[Row(h, 0), bos] = -1;
                wo[dup, Row(h, 0)] = Eps;
            }
            if (l == Copy.Layer)
                foreach (int h in twinCopy ? new[] { Copy.Head, CopyTwin.Head } : [Copy.Head])
                {
                    for (int id = 0; id < v; id++) { wq[Row(h, id), tok + id] = Induction * score / Eps; wk[Row(h, id), prev + id] = 1; }
                    // A marked key holds about 0.62 of Duplicate's Eps.
                    wq[Row(h, v), constant] = Select * score / (0.62f * Eps); wk[Row(h, v), dup] = 1;
                    for (int id = 0; id < v; id++) { wv[Row(h, id), tok + id] = 1; wo[copy + id, Row(h, id)] = twinCopy ? Eps / 2 : Eps; }
                }
            layers.Add(new LayerWeights(new Dictionary<string, Tensor>
            {
                ["attn_norm.weight"] = torch.full(dim, gain), ["attn_q.weight"] = wq.Tensor(), ["attn_k.weight"] = wk.Tensor(),
                ["attn_v.weight"] = wv.Tensor(), ["attn_output.weight"] = wo.Tensor(), ["ffn_norm.weight"] = torch.full(dim, gain),
                ["ffn_gate.weight"] = torch.zeros(4, dim), ["ffn_up.weight"] = torch.zeros(4, dim), ["ffn_down.weight"] = torch.zeros(dim, 4),
            }));
        }
        var output = new WeightMatrix(v, dim);
        for (int id = 0; id < v; id++) output[id, copy + id] = Logit / Eps;
        var weights = new ModelWeights(new Dictionary<string, Tensor>
        {
            ["token_embd.weight"] = embed.Tensor(), ["position_embd.weight"] = positions.Tensor(), ["output_norm.weight"] = torch.full(dim, gain),
            ["output.weight"] = output.Tensor(),
        }, layers);
        return new Transformer(spec, weights);
    }

    /// <summary>
    /// Probe documents of <paramref name="length"/> tokens: BOS, then words no other document uses and none repeats, so a
    /// needle taken from one document is unique in another's haystack.
    /// </summary>
    public static List<int[]> Probes(CharTokenizer tokenizer, int count, int length) =>
        Enumerable.Range(0, count).Select(d => new[] { tokenizer.BosId!.Value }
            .Concat(Enumerable.Range(0, length - 1).Select(i => tokenizer.Word(d * (length - 1) + i))).ToArray()).ToList();
}

/// <summary>
/// A tokenizer for constructed models: BOS (1), one token per character of <see cref="Alphabet"/>, and <c>words</c> word
/// tokens ("w0", "w1", ...) that probe documents are made of. Text encodes character by character.
/// </summary>
public sealed class CharTokenizer(int words) : ITokenizer
{
    // What the scores' prompts write: the multiple-choice question and letters, DuoAttention's passkey sentences.
    public const string Alphabet = "\n !?.,:0123456789abcdefghijklmnopqrstuvwxyzABCDRTW";
    private const int FirstChar = 2;

    public string Kind => "char";
    public int VocabSize => FirstChar + Alphabet.Length + words;
    public int? BosId => 1;
    public int? EosId => null;
    public bool AddBosByDefault => true;

    public int Word(int i) => i < words ? FirstChar + Alphabet.Length + i : throw new ArgumentOutOfRangeException(nameof(i), $"only {words} words");

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        var ids = new List<int>();
        if (addBos) ids.Add(1);
        foreach (char c in text)
        {
            int i = Alphabet.IndexOf(c);
            if (i < 0) throw new ArgumentException($"'{c}' is not in the constructed alphabet");
            ids.Add(FirstChar + i);
        }
        return ids;
    }

    public string Decode(IEnumerable<int> ids) => string.Concat(ids.Where(i => i != 1).Select(TokenLabel));

    public string TokenLabel(int id) =>
        id == 1 ? "<s>" : id >= FirstChar && id < FirstChar + Alphabet.Length ? Alphabet[id - FirstChar].ToString() : $"w{id - FirstChar - Alphabet.Length}";
}
