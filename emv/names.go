package emv

import "strings"

// names are what EMV (Book 3 annex A) and the schemes call the tags a
// terminal and an issuer exchange in field 55.
var names = map[string]string{
	"4F": "Application Identifier (card)", "50": "Application Label", "56": "Track 1 Data",
	"57": "Track 2 Equivalent Data", "5A": "Application PAN", "5F20": "Cardholder Name",
	"5F24": "Application Expiration Date", "5F25": "Application Effective Date",
	"5F28": "Issuer Country Code", "5F2A": "Transaction Currency Code", "5F34": "PAN Sequence Number",
	"71": "Issuer Script Template 1", "72": "Issuer Script Template 2", "82": "Application Interchange Profile",
	"84": "Dedicated File Name", "86": "Issuer Script Command", "89": "Authorisation Code",
	"8A": "Authorisation Response Code", "8E": "CVM List", "91": "Issuer Authentication Data",
	"95": "Terminal Verification Results", "9A": "Transaction Date", "9B": "Transaction Status Information",
	"9C": "Transaction Type", "9F02": "Amount, Authorised", "9F03": "Amount, Other",
	"9F06": "Application Identifier (terminal)", "9F07": "Application Usage Control",
	"9F08": "Application Version Number (card)", "9F09": "Application Version Number (terminal)",
	"9F0D": "Issuer Action Code, Default", "9F0E": "Issuer Action Code, Denial",
	"9F0F": "Issuer Action Code, Online", "9F10": "Issuer Application Data", "9F18": "Issuer Script Identifier",
	"9F1A": "Terminal Country Code", "9F1E": "Interface Device Serial Number", "9F1F": "Track 1 Discretionary Data",
	"9F20": "Track 2 Discretionary Data", "9F21": "Transaction Time", "9F26": "Application Cryptogram",
	"9F27": "Cryptogram Information Data", "9F33": "Terminal Capabilities", "9F34": "CVM Results",
	"9F35": "Terminal Type", "9F36": "Application Transaction Counter", "9F37": "Unpredictable Number",
	"9F41": "Transaction Sequence Counter", "9F53": "Transaction Category Code", "9F5B": "Issuer Script Results",
	"9F63": "Card Product Identification", "9F66": "Terminal Transaction Qualifiers",
	"9F6B": "Track 2 Data (contactless)", "9F6E": "Form Factor Indicator", "9F74": "VLP Issuer Authorisation Code",
}

// TagName is what EMV calls a tag, "" for one it does not name.
func TagName(tag string) string { return names[strings.ToUpper(tag)] }
