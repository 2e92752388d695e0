using HeadWise.Tokenizers;

namespace HeadWise.Training;

/// <summary>
/// The natural text, tokenized once: every file's tail (held_out_fraction of it) goes to the held-out stream,
/// the rest to the training stream; files are separated by EOS.
/// </summary>
internal sealed class TextCorpus
{
    public TextCorpus(int[] train, int[] heldOut) { Train = train; HeldOut = heldOut; }

    public int[] Train { get; }
    public int[] HeldOut { get; }

    /// <summary>The training part of each file, in file order (what the tokenizer learns from).</summary>
    public static IEnumerable<(string Train, string HeldOut)> Split(IReadOnlyList<string> files, double heldOutFraction)
    {
        foreach (var f in files)
        {
            var text = File.ReadAllText(f);
            int cut = text.Length - (int)(text.Length * heldOutFraction);
            // Cut at a line start so both parts begin with whole words.
            int nl = text.LastIndexOf('\n', Math.Max(0, cut - 1));
            if (nl > 0 && heldOutFraction > 0) cut = nl + 1;
            yield return (text[..cut], text[cut..]);
        }
    }

    /// <summary>Text for the BPE trainer: from each file's training part, a share proportional to its length.</summary>
    public static string TokenizerSample(IReadOnlyList<(string Train, string HeldOut)> parts, int chars)
    {
        long total = parts.Sum(p => (long)p.Train.Length);
        var sb = new System.Text.StringBuilder();
        foreach (var (train, _) in parts)
            sb.Append(train.AsSpan(0, (int)Math.Min(train.Length, (long)chars * train.Length / Math.Max(1, total)))).Append('\n');
        return sb.ToString();
    }

    public static TextCorpus Build(IReadOnlyList<(string Train, string HeldOut)> parts, ByteLevelBpeTokenizer tokenizer, int eosId)
    {
        var train = new List<int>();
        var held = new List<int>();
        foreach (var (t, h) in parts)
        {
            train.AddRange(tokenizer.Encode(t, addBos: false, parseSpecial: false)); train.Add(eosId);
            if (h.Length > 0) { held.AddRange(tokenizer.Encode(h, addBos: false, parseSpecial: false)); held.Add(eosId); }
        }
        return new TextCorpus(train.ToArray(), held.ToArray());
    }
}
