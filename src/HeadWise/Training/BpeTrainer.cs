using System.Text;
using System.Text.RegularExpressions;
using HeadWise.Tokenizers;

namespace HeadWise.Training;

/// <summary>A trained byte-level BPE vocabulary: tokens in the GPT-2 byte alphabet, merges "left right" by rank.</summary>
public sealed record BpeVocabulary(string[] Tokens, string[] Merges, int[] TokenTypes, int BosId, int EosId)
{
    public const string Bos = "<s>", Eos = "</s>";

    /// <summary>The GPT-2 pre-tokenizer HeadWise and llama.cpp both apply to this vocabulary (GGUF tokenizer.ggml.pre = "gpt-2", the name llama.cpp knows it by).</summary>
    public const string PreTokenizer = "gpt-2";

    public ByteLevelBpeTokenizer CreateTokenizer(string source = "(trained vocabulary)") =>
        new(Tokens, Merges, TokenTypes, BosId, EosId, addBos: true, ByteLevelBpeTokenizer.Gpt2Pattern, source);
}

/// <summary>
/// Trains a byte-level BPE the classic way (Sennrich et al.; GPT-2's byte alphabet): split text with the GPT-2
/// pattern, start from bytes, and repeatedly merge the most frequent adjacent pair (ties: the smaller id pair),
/// until the vocabulary holds <c>size</c> tokens. Ids: 0 = &lt;s&gt;, 1 = &lt;/s&gt;, 2..257 = bytes, then merges.
/// </summary>
public static class BpeTrainer
{
    public static BpeVocabulary Train(string text, int size)
    {
        if (size < 258) throw new ArgumentOutOfRangeException(nameof(size), $"a byte-level vocabulary needs at least 258 tokens, got {size}");
        var tokens = new List<string> { BpeVocabulary.Bos, BpeVocabulary.Eos };
        for (int b = 0; b < 256; b++) tokens.Add(ByteLevelAlphabet.Encode([(byte)b]));

        // Unique words with their counts; each word is a list of token ids.
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in new Regex(ByteLevelBpeTokenizer.Gpt2Pattern, RegexOptions.CultureInvariant).Matches(text))
            counts[m.Value] = counts.GetValueOrDefault(m.Value) + 1;
        var words = counts.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (Ids: Encoding.UTF8.GetBytes(kv.Key).Select(b => b + 2).ToList(), Count: kv.Value)).ToList();

        var index = tokens.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal);
        var merges = new List<string>();
        var pairs = new Dictionary<long, long>();
        while (tokens.Count < size)
        {
            pairs.Clear();
            foreach (var (ids, count) in words)
                for (int i = 0; i + 1 < ids.Count; i++)
                {
                    long key = ((long)ids[i] << 32) | (uint)ids[i + 1];
                    pairs[key] = pairs.GetValueOrDefault(key) + count;
                }
            if (pairs.Count == 0) break;   // every word is one token already
            long best = -1, bestCount = 0;
            foreach (var (key, c) in pairs)
                if (c > bestCount || (c == bestCount && key < best)) { best = key; bestCount = c; }
            int left = (int)(best >> 32), right = (int)(best & 0xFFFFFFFF);
            // Two different splits can spell the same string ("ab c", "a bc"): one token, two merge rules.
            var spelled = tokens[left] + tokens[right];
            if (!index.TryGetValue(spelled, out int merged)) { merged = tokens.Count; tokens.Add(spelled); index[spelled] = merged; }
            merges.Add(tokens[left] + " " + tokens[right]);
            foreach (var (ids, _) in words)
                for (int i = 0; i + 1 < ids.Count; i++)
                    if (ids[i] == left && ids[i + 1] == right) { ids[i] = merged; ids.RemoveAt(i + 1); }
        }
        var types = tokens.Select((_, i) => i < 2 ? (int)TokenType.Control : (int)TokenType.Normal).ToArray();
        return new BpeVocabulary(tokens.ToArray(), merges.ToArray(), types, 0, 1);
    }
}
