/*
 * Why this exists: the image index reads text found inside images (OCR) in Chinese as well as English. Its
 * `ocr_text` analyzer (mappings/images.json) is the standard tokenizer (one token per Han character) with
 * Lucene's CJK width folding and bigram filters, as Elasticsearch's own `cjk` analyzer has. Those filters
 * are registered by the `analysis-common` module, which the integ-test-zip distribution leaves out; these
 * two factories, over Lucene's own classes (lucene-analysis-common ships in the server's lib), give the local
 * node the same two filters under the same names. A real distribution has them from analysis-common.
 *
 * The same goes for the `ngram` tokenizer (letters and digits only, as `token_chars: [letter, digit]` gives
 * it): the recogniser at times drops the space between two Latin words, and a phrase over the trigram
 * sub-field of `ocr_text` still finds a word inside such a run. Its grams follow each other in position,
 * so a phrase of them is a substring.
 */
package esimagesearch.rootinfo;

import org.apache.lucene.analysis.cjk.CJKBigramFilter;
import org.apache.lucene.analysis.cjk.CJKWidthFilter;
import org.apache.lucene.analysis.ngram.NGramTokenizer;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;

import java.util.Map;

final class CjkAnalysis {

    private CjkAnalysis() {}

    static Map<String, AnalysisProvider<TokenFilterFactory>> tokenFilters() {
        return Map.of(
            "cjk_width", (indexSettings, environment, name, settings) -> SecurityIndexAnalysis.factory(name, CJKWidthFilter::new),
            "cjk_bigram", (indexSettings, environment, name, settings) -> {
                boolean unigrams = settings.getAsBoolean("output_unigrams", false);
                int scripts = CJKBigramFilter.HAN | CJKBigramFilter.HIRAGANA | CJKBigramFilter.KATAKANA
                    | CJKBigramFilter.HANGUL;
                return SecurityIndexAnalysis.factory(name, stream -> new CJKBigramFilter(stream, scripts, unigrams));
            }
        );
    }

    static Map<String, AnalysisProvider<TokenizerFactory>> tokenizers() {
        return Map.of("ngram", (indexSettings, environment, name, settings) -> {
            int min = settings.getAsInt("min_gram", 1);
            int max = settings.getAsInt("max_gram", 2);
            if (min < 1 || max < min) {
                throw new IllegalArgumentException("ngram [" + name + "] needs 1 <= min_gram <= max_gram");
            }
            return TokenizerFactory.newFactory(name, () -> new NGramTokenizer(min, max) {
                @Override
                protected boolean isTokenChar(int chr) {
                    return Character.isLetterOrDigit(chr);
                }
            });
        });
    }
}
