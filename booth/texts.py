"""Every text a guest reads, in one catalog: the booth's screens and the phone's download page.

Why here: the kiosk and the share server both speak to guests and must not import each other, so
the catalog lives in the contract package. `kiosk.language` picks the language; every text can
be replaced in the config's `[texts]` table (checked at start-up: unknown keys and unknown
`{placeholders}` are refused, see `booth/config.py`). English is the reference: every language has
exactly its keys and placeholders (a test checks).

Texts for the operator (logs, `booth doctor`, the /admin gallery) stay English, except the
printer's (OPERATOR_PRINT below: whoever loads the paper reads them).
The wire protocol's error messages (`booth/protocol.py` GUEST_MESSAGES) stay English too; the
screens show the catalog's words for each error kind instead.
"""

from __future__ import annotations

import string
import time
from collections.abc import Mapping

LANGUAGES = ("en", "de", "fr", "es")
# before ! ? : in French, between a number and its unit: the screens never break there
NBSP = "\u00a0"

EN: dict[str, str] = {
    # start screen
    "start_button": "Tap to get dripped",
    "start_hint": "Strike a pose, we add the bling",
    "start_hint_gpio": "Tap here or press the big button",
    "pick_style": "Pick your style",
    "start_strip": "{n} photos in a row",
    "photos_paused": "Photos paused: please tell the host.",
    "privacy_ai": "Photos are sent to an AI service to add the drip and are deleted after {days}.",
    # countdown
    "get_ready": "Get ready!",
    "look_at_camera": "Look at the camera",
    "style_named": "Style: {style}",
    # processing
    "in_line": "You're next in line",
    "working": "Adding the drip",
    "seconds": f"{{seconds}}{NBSP}s",
    "slow": "Taking longer than usual. Hang tight!",
    "in_strip": "Your photo will appear in the recent photos.",
    "storage_wait": "Saving your photo… memory full: tell the host.",
    "new_photo": "New photo",
    # result
    "ready": "Your drip is ready!",
    "scan": "Scan to download",
    "or_type": "or type",
    "join_wifi": "1. Join the booth Wi-Fi",
    "then_scan": "2. Scan to download",
    "wait_join_wifi": "While you wait: join the booth Wi-Fi",
    "wifi_network": "Network: {ssid}",
    "wifi_password": "Password: {password}",
    "wifi_open": "No password needed",
    "on_booth_wifi": "Downloads work on the booth Wi-Fi",
    "works_anywhere": "Works anywhere, even on mobile data",
    "fallback_note": "The AI was busy, so we added the bling ourselves.",
    "back_in": f"Back to start in {{seconds}}{NBSP}s",
    # prints (the result screen's Print button and the line under it)
    "print_button": "Print",
    "print_requested": "Sending your print…",
    "print_next": "Your print is next",
    "print_ahead_one": "1 print ahead of yours",
    "print_ahead_many": "{n} prints ahead of yours",
    "print_printing": "Printing…",
    "print_printed": "Printed! Pick it up at the printer.",
    "print_paused": "Printing paused: get your photo by QR.",
    "print_unavailable": "No printing now: get your photo by QR.",
    "print_budget": "No prints left: get your photo by QR.",
    "print_limit": "That's all the prints for this photo.",
    "print_failed": "Print failed: tap Print to try again.",
    "print_cancelled": "The host cancelled this print.",
    # errors
    "try_again": "Try again",
    "ready_again_in": f"Ready again in about {{seconds}}{NBSP}s",
    "error_quota_title": "The AI is resting",
    "error_quota": "The AI has made all the pictures it may today. Please try again later.",
    "error_rate_limited_title": "The AI is very busy",
    "error_rate_limited": "Too many photos at once. Please try again in a moment.",
    "error_safety_title": "The AI said no to this one",
    "error_safety": "The AI would not edit this photo. Try another pose!",
    "error_no_image_title": "No picture came back",
    "error_no_image": "The AI did not send a picture back this time. Please try again.",
    "error_timeout_title": "That took too long",
    "error_timeout": "The AI took too long to answer. Please try again.",
    "error_unavailable_title": "The AI is out of reach",
    "error_unavailable": "The AI can't be reached right now. Please try again in a moment.",
    "error_bad_input_title": "We couldn't read that photo",
    "error_bad_input": "That photo could not be read. Please take another one.",
    "error_internal_title": "Something went wrong",
    "error_internal": "Something went wrong on our side. Please take another photo.",
    "error_camera_title": "The camera missed that",
    "error_camera": "The camera did not take the picture. Please try again.",
    "error_storage_title": "The booth's memory is full",
    "error_storage": "This photo could not be saved. Please let the host know.",
    # camera restart
    "camera_reconnecting": "Camera reconnecting…",
    "camera_wait": "Hang tight, this takes a few seconds.",
    # the phone's download page
    "page_download": "Download photo",
    "page_share": "Share or save to Photos",
    "page_tip": "Tip: you can also press and hold the picture to save it.",
    "page_howto": "Tap Download to save your photo.",
    "page_ios_hold": "Press and hold the photo, then tap “Save to Photos”.",
    "page_ios_share": "Tap Share, then “Save Image” to put the photo in Photos.",
    "page_download_files": "Download to Files",
    "page_download_clip": "Download clip",
    "page_clip_label": "Your photo getting its drip, from {title}",
    "page_clip_tip": "The clip loops by itself. On iPhone, open it from Downloads, tap Share, "
    "then “Save Video”.",
    "page_lan_note": "This link works only on the booth's Wi-Fi, for {days} at most: save the "
    "photo now.",
    "page_cloud_note": "This link works on any network until {until}.",
    "page_portal_wifi": "You're on the booth's Wi-Fi.",
    "page_portal_scan": "To get your photo, scan the photo QR code on the booth screen with your "
    "camera.",
    "page_portal_no_internet": "This Wi-Fi reaches only the booth, not the internet.",
    "page_alt": "Your photo from {title}",
    "page_not_found": "We can't find that photo.",
    "page_not_found_hint": "It may still be on its way, or the link has expired. Scan the QR "
    "code on the booth screen again, or ask the booth's host for help.",
    "page_code_prompt": "Type the code shown under the QR code on the booth screen.",
    "page_code_button": "Show my photo",
    "page_code_wrong": "No photo has that code. Check it and try again.",
    "page_code_slow": "Too many tries. Wait a minute, then try again.",
    "page_try_later": "Please try again in a moment.",
    "page_error": "Something went wrong on our side.",
    # units and dates
    "days_one": "1 day",
    "days_many": "{n} days",
    "date": "{day} {month} {year}",
    "months": "January|February|March|April|May|June|July|August|September|October|"
    "November|December",
    # strip sessions (kiosk.mode = "strip"): the session screen and the phone page
    "strip_photo_of": "Photo {n} of {total}",
    "strip_got_it": "Got it! Next photo coming up",
    "strip_working": "Adding the drip to your photos",
    "strip_count": "{ready} of {total} ready",
    "strip_restarted": "The booth restarted. The photos you took ({taken} of {total}) are kept "
    "and being finished now.",
    "strip_camera_stopped": "The camera stopped. The photos you took ({taken} of {total}) are "
    "kept.",
    "page_strip_photos": "Your photos one by one",
    "page_download_frame": "Photo {n}",
    "page_frame_alt": "Photo {n} of {total}, {title}",
}

DE: dict[str, str] = {
    "start_button": "Tippen und Drip holen",
    "start_hint": "Stell dich in Pose, wir bringen den Schmuck",
    "start_hint_gpio": "Hier tippen oder den großen Knopf drücken",
    "pick_style": "Wähle deinen Stil",
    "start_strip": "{n} Fotos hintereinander",
    "photos_paused": "Fotos pausiert: bitte dem Team sagen.",
    "privacy_ai": "Fotos werden für den Drip an einen KI-Dienst gesendet und nach {days} gelöscht.",
    "get_ready": "Mach dich bereit!",
    "look_at_camera": "Schau in die Kamera",
    "style_named": "Stil: {style}",
    "in_line": "Du bist gleich dran",
    "working": "Der Drip kommt",
    "seconds": f"{{seconds}}{NBSP}s",
    "slow": "Dauert länger als sonst. Gleich geschafft!",
    "in_strip": "Dein Foto erscheint gleich bei den letzten Fotos.",
    "storage_wait": "Foto wird gespeichert… Speicher voll: Team rufen.",
    "new_photo": "Neues Foto",
    "ready": "Dein Drip ist fertig!",
    "scan": "Scannen zum Herunterladen",
    "or_type": "oder eintippen",
    "join_wifi": "1. Ins Booth-WLAN",
    "then_scan": "2. Scannen zum Herunterladen",
    "wait_join_wifi": "Während du wartest: ins Booth-WLAN",
    "wifi_network": "Netzwerk: {ssid}",
    "wifi_password": "Passwort: {password}",
    "wifi_open": "Kein Passwort nötig",
    "on_booth_wifi": "Download klappt im Booth-WLAN",
    "works_anywhere": "Klappt überall, auch mit mobilen Daten",
    "fallback_note": "Die KI war beschäftigt, also haben wir den Schmuck selbst gemacht.",
    "back_in": f"Zurück zum Start in {{seconds}}{NBSP}s",
    "print_button": "Drucken",
    "print_requested": "Dein Druck wird gesendet…",
    "print_next": "Dein Druck ist als Nächstes dran",
    "print_ahead_one": "1 Druck vor deinem",
    "print_ahead_many": "{n} Drucke vor deinem",
    "print_printing": "Wird gedruckt…",
    "print_printed": "Gedruckt! Hol ihn dir am Drucker.",
    "print_paused": "Druck pausiert: Foto per QR holen.",
    "print_unavailable": "Drucken geht nicht: Foto per QR-Code.",
    "print_budget": "Keine Drucke mehr: Foto per QR-Code.",
    "print_limit": "Keine weiteren Drucke dieses Fotos.",
    "print_failed": "Druck fehlgeschlagen: nochmal tippen.",
    "print_cancelled": "Das Team hat den Druck abgebrochen.",
    "try_again": "Nochmal",
    "ready_again_in": f"Wieder bereit in etwa {{seconds}}{NBSP}s",
    "error_quota_title": "Die KI macht Pause",
    "error_quota": "Die KI hat heute alle Bilder gemacht, die sie darf. Bitte später nochmal.",
    "error_rate_limited_title": "Die KI ist sehr beschäftigt",
    "error_rate_limited": "Zu viele Fotos auf einmal. Bitte gleich nochmal versuchen.",
    "error_safety_title": "Die KI wollte dieses nicht",
    "error_safety": "Die KI wollte dieses Foto nicht bearbeiten. Probier eine andere Pose!",
    "error_no_image_title": "Kein Bild zurückgekommen",
    "error_no_image": "Die KI hat diesmal kein Bild geschickt. Bitte nochmal versuchen.",
    "error_timeout_title": "Das hat zu lange gedauert",
    "error_timeout": "Die KI hat zu lange gebraucht. Bitte nochmal versuchen.",
    "error_unavailable_title": "Die KI ist nicht erreichbar",
    "error_unavailable": "Die KI ist gerade nicht erreichbar. Bitte gleich nochmal versuchen.",
    "error_bad_input_title": "Das Foto war nicht lesbar",
    "error_bad_input": "Dieses Foto konnte nicht gelesen werden. Bitte mach ein neues.",
    "error_internal_title": "Etwas ist schiefgegangen",
    "error_internal": "Bei uns ist etwas schiefgegangen. Bitte mach ein neues Foto.",
    "error_camera_title": "Die Kamera hat's verpasst",
    "error_camera": "Die Kamera hat kein Bild gemacht. Bitte nochmal versuchen.",
    "error_storage_title": "Der Speicher ist voll",
    "error_storage": "Dieses Foto konnte nicht gespeichert werden. Bitte sag dem Gastgeber "
    "Bescheid.",
    "camera_reconnecting": "Kamera verbindet sich neu…",
    "camera_wait": "Einen Moment, das dauert nur ein paar Sekunden.",
    "page_download": "Foto herunterladen",
    "page_share": "Teilen oder in Fotos sichern",
    "page_tip": "Tipp: Du kannst das Bild auch gedrückt halten, um es zu sichern.",
    "page_howto": "Tippe auf Herunterladen, um dein Foto zu sichern.",
    "page_ios_hold": "Halte das Foto gedrückt und tippe dann auf „Zu Fotos hinzufügen“.",
    "page_ios_share": "Tippe auf Teilen und dann auf „Bild sichern“, um das Foto in Fotos zu "
    "legen.",
    "page_download_files": "In Dateien laden",
    "page_download_clip": "Clip herunterladen",
    "page_clip_label": "Dein Foto bekommt seinen Drip, von {title}",
    "page_clip_tip": "Der Clip läuft in Schleife. Auf dem iPhone: in Downloads öffnen, auf "
    "Teilen tippen, dann auf „Video sichern“.",
    "page_lan_note": "Dieser Link funktioniert nur im WLAN der Booth, höchstens {days} lang: "
    "sichere das Foto jetzt.",
    "page_cloud_note": "Dieser Link funktioniert in jedem Netz bis {until}.",
    "page_portal_wifi": "Du bist im WLAN der Booth.",
    "page_portal_scan": "Für dein Foto scanne den Foto-QR-Code auf dem Bildschirm der Booth mit "
    "deiner Kamera.",
    "page_portal_no_internet": "Dieses WLAN führt nur zur Booth, nicht ins Internet.",
    "page_alt": "Dein Foto von {title}",
    "page_not_found": "Wir finden dieses Foto nicht.",
    "page_not_found_hint": "Vielleicht ist es noch unterwegs, oder der Link ist abgelaufen. "
    "Scanne den QR-Code auf dem Bildschirm der Booth nochmal oder frag "
    "den Gastgeber.",
    "page_code_prompt": "Gib den Code ein, der unter dem QR-Code auf dem Bildschirm steht.",
    "page_code_button": "Mein Foto zeigen",
    "page_code_wrong": "Kein Foto hat diesen Code. Bitte prüfen und nochmal versuchen.",
    "page_code_slow": "Zu viele Versuche. Warte eine Minute und versuch es dann nochmal.",
    "page_try_later": "Bitte gleich nochmal versuchen.",
    "page_error": "Bei uns ist etwas schiefgegangen.",
    "days_one": "1 Tag",
    "days_many": "{n} Tage",
    "date": "{day}. {month} {year}",
    "months": "Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember",
    # Fotostreifen (kiosk.mode = "strip")
    "strip_photo_of": "Foto {n} von {total}",
    "strip_got_it": "Im Kasten! Gleich kommt das nächste Foto",
    "strip_working": "Deine Fotos bekommen ihren Drip",
    "strip_count": "{ready} von {total} fertig",
    "strip_restarted": "Die Fotobox hat neu gestartet. Deine Fotos ({taken} von {total}) sind "
    "gesichert und werden jetzt fertig.",
    "strip_camera_stopped": "Die Kamera hat gestoppt. Deine Fotos ({taken} von {total}) sind "
    "gesichert.",
    "page_strip_photos": "Deine Fotos einzeln",
    "page_download_frame": "Foto {n}",
    "page_frame_alt": "Foto {n} von {total}, {title}",
}

FR: dict[str, str] = {
    "start_button": "Touchez pour le drip",
    "start_hint": "Prenez la pose, on ajoute les bijoux",
    "start_hint_gpio": "Touchez ici ou appuyez sur le gros bouton",
    "pick_style": "Choisissez votre style",
    "start_strip": "{n} photos à la suite",
    "photos_paused": f"Photos en pause{NBSP}: prévenez l'équipe.",
    "privacy_ai": "Les photos sont envoyées à un service d'IA pour le drip et supprimées "
    "après {days}.",
    "get_ready": f"Préparez-vous{NBSP}!",
    "look_at_camera": "Regardez la caméra",
    "style_named": f"Style{NBSP}: {{style}}",
    "in_line": "C'est bientôt votre tour",
    "working": "On ajoute le drip",
    "seconds": f"{{seconds}}{NBSP}s",
    "slow": f"Plus long que d'habitude. Encore un instant{NBSP}!",
    "in_strip": "Votre photo apparaîtra parmi les photos récentes.",
    "storage_wait": f"Enregistrement… mémoire pleine{NBSP}: prévenez l'équipe.",
    "new_photo": "Nouvelle photo",
    "ready": f"Votre drip est prêt{NBSP}!",
    "scan": "Scannez pour télécharger",
    "or_type": "ou tapez",
    "join_wifi": "1. Rejoignez le Wi-Fi",
    "then_scan": "2. Scannez pour télécharger",
    "wait_join_wifi": "En attendant, rejoignez le Wi-Fi du photobooth",
    "wifi_network": f"Réseau{NBSP}: {{ssid}}",
    "wifi_password": f"Mot de passe{NBSP}: {{password}}",
    "wifi_open": "Pas de mot de passe",
    "on_booth_wifi": "Téléchargement sur le Wi-Fi du photobooth",
    "works_anywhere": "Fonctionne partout, même en 4G",
    "fallback_note": "L'IA était occupée, alors nous avons ajouté les bijoux nous-mêmes.",
    "back_in": f"Retour à l'accueil dans {{seconds}}{NBSP}s",
    "print_button": "Imprimer",
    "print_requested": "Envoi de votre impression…",
    "print_next": "Votre impression est la prochaine",
    "print_ahead_one": "1 impression avant la vôtre",
    "print_ahead_many": "{n} impressions avant la vôtre",
    "print_printing": "Impression…",
    "print_printed": f"Imprimée{NBSP}! Récupérez-la à l'imprimante.",
    "print_paused": f"En pause{NBSP}: scannez le QR pour la photo.",
    "print_unavailable": f"Impossible d'imprimer{NBSP}: scannez le QR.",
    "print_budget": f"Plus d'impressions{NBSP}: scannez le QR.",
    "print_limit": "Plus d'impression pour cette photo.",
    "print_failed": f"Échec{NBSP}: touchez Imprimer à nouveau.",
    "print_cancelled": "L'équipe a annulé cette impression.",
    "try_again": "Réessayer",
    "ready_again_in": f"De nouveau prêt dans {{seconds}}{NBSP}s environ",
    "error_quota_title": "L'IA se repose",
    "error_quota": "L'IA a fait toutes les images permises aujourd'hui. Réessayez plus tard.",
    "error_rate_limited_title": "L'IA est très occupée",
    "error_rate_limited": "Trop de photos à la fois. Réessayez dans un instant.",
    "error_safety_title": "L'IA a refusé celle-ci",
    "error_safety": f"L'IA n'a pas voulu modifier cette photo. Essayez une autre pose{NBSP}!",
    "error_no_image_title": "Aucune image reçue",
    "error_no_image": "L'IA n'a pas renvoyé d'image cette fois. Réessayez.",
    "error_timeout_title": "C'était trop long",
    "error_timeout": "L'IA a mis trop de temps à répondre. Réessayez.",
    "error_unavailable_title": "L'IA est injoignable",
    "error_unavailable": "L'IA est injoignable pour le moment. Réessayez dans un instant.",
    "error_bad_input_title": "Photo illisible",
    "error_bad_input": "Cette photo n'a pas pu être lue. Prenez-en une autre.",
    "error_internal_title": "Un problème est survenu",
    "error_internal": "Un problème est survenu de notre côté. Prenez une autre photo.",
    "error_camera_title": "La caméra l'a raté",
    "error_camera": "La caméra n'a pas pris la photo. Réessayez.",
    "error_storage_title": "La mémoire est pleine",
    "error_storage": "Cette photo n'a pas pu être enregistrée. Prévenez l'organisateur.",
    "camera_reconnecting": "La caméra se reconnecte…",
    "camera_wait": "Un instant, cela prend quelques secondes.",
    "page_download": "Télécharger la photo",
    "page_share": "Partager ou enregistrer dans Photos",
    "page_tip": f"Astuce{NBSP}: appuyez longuement sur l'image pour l'enregistrer.",
    "page_howto": "Touchez Télécharger pour enregistrer votre photo.",
    "page_ios_hold": f"Maintenez le doigt sur la photo, puis touchez «{NBSP}Enregistrer dans "
    f"Photos{NBSP}».",
    "page_ios_share": f"Touchez Partager, puis «{NBSP}Enregistrer l'image{NBSP}» pour la mettre "
    "dans Photos.",
    "page_download_files": "Télécharger dans Fichiers",
    "page_download_clip": "Télécharger le clip",
    "page_clip_label": "Votre photo prend son drip, à {title}",
    "page_clip_tip": f"Le clip tourne en boucle. Sur iPhone{NBSP}: ouvrez-le depuis "
    f"Téléchargements, touchez Partager, puis «{NBSP}Enregistrer la vidéo{NBSP}».",
    "page_lan_note": f"Ce lien ne fonctionne que sur le Wi-Fi de la borne, {{days}} au "
    f"plus{NBSP}: enregistrez la photo maintenant.",
    "page_cloud_note": "Ce lien fonctionne sur tout réseau jusqu'au {until}.",
    "page_portal_wifi": "Vous êtes sur le Wi-Fi de la borne.",
    "page_portal_scan": "Pour obtenir votre photo, scannez le QR code de la photo sur l'écran de "
    "la borne avec votre appareil photo.",
    "page_portal_no_internet": "Ce Wi-Fi ne mène qu'à la borne, pas à internet.",
    "page_alt": "Votre photo de {title}",
    "page_not_found": "Nous ne trouvons pas cette photo.",
    "page_not_found_hint": "Elle est peut-être encore en route, ou le lien a expiré. Scannez à "
    "nouveau le QR code sur l'écran du photobooth, ou demandez à "
    "l'organisateur.",
    "page_code_prompt": "Tapez le code affiché sous le QR code sur l'écran du photobooth.",
    "page_code_button": "Voir ma photo",
    "page_code_wrong": "Aucune photo n'a ce code. Vérifiez-le et réessayez.",
    "page_code_slow": "Trop d'essais. Attendez une minute, puis réessayez.",
    "page_try_later": "Réessayez dans un instant.",
    "page_error": "Un problème est survenu de notre côté.",
    "days_one": "1 jour",
    "days_many": "{n} jours",
    "date": "{day} {month} {year}",
    "months": "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|"
    "décembre",
    # bandes photo (kiosk.mode = "strip")
    "strip_photo_of": "Photo {n} sur {total}",
    "strip_got_it": f"Dans la boîte{NBSP}! Photo suivante",
    "strip_working": "On ajoute le drip à vos photos",
    "strip_count": "{ready} sur {total} prêtes",
    "strip_restarted": "Le photomaton a redémarré. Vos photos ({taken} sur {total}) sont "
    "gardées et se terminent maintenant.",
    "strip_camera_stopped": "La caméra s'est arrêtée. Vos photos ({taken} sur {total}) sont "
    "gardées.",
    "page_strip_photos": "Vos photos une par une",
    "page_download_frame": "Photo {n}",
    "page_frame_alt": "Photo {n} sur {total}, {title}",
}

ES: dict[str, str] = {
    "start_button": "Toca para el drip",
    "start_hint": "Posa, nosotros ponemos las joyas",
    "start_hint_gpio": "Toca aquí o pulsa el botón grande",
    "pick_style": "Elige tu estilo",
    "start_strip": "{n} fotos seguidas",
    "photos_paused": "Fotos en pausa: avisa al equipo.",
    "privacy_ai": "Las fotos se envían a un servicio de IA para el drip y se borran tras {days}.",
    "get_ready": "¡Prepárate!",
    "look_at_camera": "Mira a la cámara",
    "style_named": "Estilo: {style}",
    "in_line": "Ya casi es tu turno",
    "working": "Poniendo el drip",
    "seconds": f"{{seconds}}{NBSP}s",
    "slow": "Tarda más de lo normal. ¡Un momento!",
    "in_strip": "Tu foto aparecerá en las fotos recientes.",
    "storage_wait": "Guardando tu foto… memoria llena: avisa al equipo.",
    "new_photo": "Nueva foto",
    "ready": "¡Tu drip está listo!",
    "scan": "Escanea para descargar",
    "or_type": "o escribe",
    "join_wifi": "1. Únete al Wi-Fi",
    "then_scan": "2. Escanea para descargar",
    "wait_join_wifi": "Mientras esperas: conéctate al Wi-Fi del fotomatón",
    "wifi_network": "Red: {ssid}",
    "wifi_password": "Contraseña: {password}",
    "wifi_open": "Sin contraseña",
    "on_booth_wifi": "Descarga en el Wi-Fi del fotomatón",
    "works_anywhere": "Funciona en cualquier red, también con datos móviles",
    "fallback_note": "La IA estaba ocupada, así que pusimos las joyas nosotros.",
    "back_in": f"Volvemos al inicio en {{seconds}}{NBSP}s",
    "print_button": "Imprimir",
    "print_requested": "Enviando tu impresión…",
    "print_next": "Tu impresión es la siguiente",
    "print_ahead_one": "1 impresión antes de la tuya",
    "print_ahead_many": "{n} impresiones antes de la tuya",
    "print_printing": "Imprimiendo…",
    "print_printed": "¡Impresa! Recógela en la impresora.",
    "print_paused": "En pausa: escanea el QR para tu foto.",
    "print_unavailable": "No se puede imprimir: escanea el QR.",
    "print_budget": "No quedan impresiones: escanea el QR.",
    "print_limit": "No hay más impresiones de esta foto.",
    "print_failed": "Falló: toca Imprimir otra vez.",
    "print_cancelled": "El equipo canceló esta impresión.",
    "try_again": "Reintentar",
    "ready_again_in": f"Listo de nuevo en unos {{seconds}}{NBSP}s",
    "error_quota_title": "La IA está descansando",
    "error_quota": "La IA ya hizo todas las imágenes que puede hoy. Inténtalo más tarde.",
    "error_rate_limited_title": "La IA está muy ocupada",
    "error_rate_limited": "Demasiadas fotos a la vez. Inténtalo de nuevo en un momento.",
    "error_safety_title": "La IA rechazó esta",
    "error_safety": "La IA no quiso editar esta foto. ¡Prueba otra pose!",
    "error_no_image_title": "No llegó ninguna imagen",
    "error_no_image": "La IA no devolvió ninguna imagen esta vez. Inténtalo de nuevo.",
    "error_timeout_title": "Tardó demasiado",
    "error_timeout": "La IA tardó demasiado en responder. Inténtalo de nuevo.",
    "error_unavailable_title": "La IA no está disponible",
    "error_unavailable": "No se puede contactar con la IA ahora. Inténtalo en un momento.",
    "error_bad_input_title": "No pudimos leer esa foto",
    "error_bad_input": "No se pudo leer esa foto. Haz otra, por favor.",
    "error_internal_title": "Algo salió mal",
    "error_internal": "Algo salió mal por nuestra parte. Haz otra foto, por favor.",
    "error_camera_title": "La cámara no la captó",
    "error_camera": "La cámara no hizo la foto. Inténtalo de nuevo.",
    "error_storage_title": "La memoria está llena",
    "error_storage": "No se pudo guardar esta foto. Avisa al anfitrión, por favor.",
    "camera_reconnecting": "La cámara se está reconectando…",
    "camera_wait": "Un momento, tarda unos segundos.",
    "page_download": "Descargar foto",
    "page_share": "Compartir o guardar en Fotos",
    "page_tip": "Consejo: también puedes mantener pulsada la imagen para guardarla.",
    "page_howto": "Toca Descargar para guardar tu foto.",
    "page_ios_hold": "Mantén pulsada la foto y toca «Guardar en Fotos».",
    "page_ios_share": "Toca Compartir y luego «Guardar imagen» para llevar la foto a Fotos.",
    "page_download_files": "Descargar en Archivos",
    "page_download_clip": "Descargar el clip",
    "page_clip_label": "Tu foto recibe su drip, de {title}",
    "page_clip_tip": "El clip se repite solo. En iPhone, ábrelo desde Descargas, toca "
    "Compartir y luego «Guardar vídeo».",
    "page_lan_note": "Este enlace solo funciona en el Wi-Fi del fotomatón, {days} como máximo: "
    "guarda la foto ahora.",
    "page_cloud_note": "Este enlace funciona en cualquier red hasta el {until}.",
    "page_portal_wifi": "Estás en el Wi-Fi del fotomatón.",
    "page_portal_scan": "Para tu foto, escanea el código QR de la foto en la pantalla del "
    "fotomatón con tu cámara.",
    "page_portal_no_internet": "Este Wi-Fi solo lleva al fotomatón, no a internet.",
    "page_alt": "Tu foto de {title}",
    "page_not_found": "No encontramos esa foto.",
    "page_not_found_hint": "Puede que aún esté en camino o que el enlace haya caducado. Vuelve "
    "a escanear el código QR de la pantalla o pide ayuda al anfitrión.",
    "page_code_prompt": "Escribe el código que aparece bajo el código QR en la pantalla.",
    "page_code_button": "Ver mi foto",
    "page_code_wrong": "Ninguna foto tiene ese código. Revísalo e inténtalo de nuevo.",
    "page_code_slow": "Demasiados intentos. Espera un minuto y vuelve a intentarlo.",
    "page_try_later": "Inténtalo de nuevo en un momento.",
    "page_error": "Algo salió mal por nuestra parte.",
    "days_one": "1 día",
    "days_many": "{n} días",
    "date": "{day} de {month} de {year}",
    "months": "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|"
    "diciembre",
    # tiras de fotos (kiosk.mode = "strip")
    "strip_photo_of": "Foto {n} de {total}",
    "strip_got_it": "¡Listo! La siguiente foto, en un momento",
    "strip_working": "Añadiendo el drip a tus fotos",
    "strip_count": "{ready} de {total} listas",
    "strip_restarted": "El fotomatón se reinició. Tus fotos ({taken} de {total}) están a salvo "
    "y se terminan ahora.",
    "strip_camera_stopped": "La cámara se detuvo. Tus fotos ({taken} de {total}) están a salvo.",
    "page_strip_photos": "Tus fotos una a una",
    "page_download_frame": "Foto {n}",
    "page_frame_alt": "Foto {n} de {total}, {title}",
}

CATALOG: dict[str, dict[str, str]] = {"en": EN, "de": DE, "fr": FR, "es": ES}
KEYS = frozenset(EN)


# The printer's words for the operator: the reasons and fixes of its health (the dashboard, the
# booth screen's operator mark) and the dashboard's print panel, in the booth's language
# (`kiosk.language`): whoever loads the paper at an event is often not who set the booth up.
# English is the reference here too: every language has exactly its keys and placeholders.
OPERATOR_PRINT_EN: dict[str, str] = {
    "paper_out": "The printer is out of paper: {waiting} print(s) wait",
    "paper_out_fix": "load paper (a new roll or pack); the waiting prints then come out by "
    "themselves",
    "paper_low": "The printer's paper is running low",
    "paper_low_fix": "have a new roll or pack ready",
    "ribbon_out": "The printer's ribbon or ink is used up: {waiting} print(s) wait",
    "ribbon_out_fix": "put in a new ribbon (dye-sub printers: the one of the paper pack)",
    "ribbon_low": "The printer's {marker} is low ({level}%)",
    "ribbon_low_fix": "have a new one ready",
    "jam": "Paper is jammed in the printer",
    "jam_fix": "open the printer, take out the jammed paper and close it",
    "door_open": "The printer's cover or door is open",
    "door_open_fix": "close it",
    "offline": "The printer does not answer (switched off or unplugged?)",
    "offline_fix": "check the printer's power and its USB or network cable",
    "queue_stopped": "The print queue {queue} is stopped ({message}): {waiting} print(s) wait",
    "queue_stopped_fix": "the booth resumes it once the printer is ready; or press Resume printing",
    "queue_rejecting": "The print queue {queue} does not accept prints",
    "queue_rejecting_fix": "press Resume printing (or run cupsaccept {queue})",
    "cups_down": "CUPS does not answer at {server}: prints wait",
    "cups_down_fix": "sudo systemctl start cups (deploy/install.sh --printer installs it)",
    "queue_missing": "CUPS has no print queue named {queue}: prints wait",
    "queue_missing_fix": "add the printer (docs/printing.md), or set print.queue to a queue "
    "that lpstat -p lists",
    "not_allowed": "The booth may not resume the print queue {queue}",
    "not_allowed_fix": "sudo usermod -aG lpadmin booth, then restart booth-printer",
    "budget_used": "The event's paper budget is used up ({used} of {total} prints)",
    "budget_used_fix": "load paper, then press Add paper",
    "budget_low": "{left} print(s) left of the event's paper",
    "budget_low_fix": "have a new roll or pack ready, then press Add paper",
    "failed": "{n} print(s) failed: {error}",
    "failed_fix": "press Reprint on the photo once the printer works",
    "printer": "Printer",
    "prints_left": "prints left",
    "no_budget": "no paper budget",
    "printed": "printed",
    "waiting": "waiting",
    "resume": "Resume printing",
    "cancel_waiting": "Cancel waiting prints",
    "reprint": "Reprint",
    "add_paper": "Add paper",
    "sheets": "sheets",
}
OPERATOR_PRINT_DE: dict[str, str] = {
    "paper_out": "Der Drucker hat kein Papier mehr: {waiting} Druck(e) warten",
    "paper_out_fix": "Papier einlegen (neue Rolle oder Packung); die wartenden Drucke kommen "
    "dann von selbst",
    "paper_low": "Das Papier im Drucker geht zur Neige",
    "paper_low_fix": "eine neue Rolle oder Packung bereitlegen",
    "ribbon_out": "Farbband oder Tinte des Druckers ist leer: {waiting} Druck(e) warten",
    "ribbon_out_fix": "ein neues Farbband einlegen (Thermosublimation: das der Papierpackung)",
    "ribbon_low": "{marker} des Druckers ist fast leer ({level}%)",
    "ribbon_low_fix": "Ersatz bereitlegen",
    "jam": "Im Drucker klemmt Papier",
    "jam_fix": "den Drucker öffnen, das Papier entfernen und ihn wieder schließen",
    "door_open": "Deckel oder Klappe des Druckers ist offen",
    "door_open_fix": "schließen",
    "offline": "Der Drucker antwortet nicht (ausgeschaltet oder ausgesteckt?)",
    "offline_fix": "Strom und USB- oder Netzwerkkabel des Druckers prüfen",
    "queue_stopped": "Die Druckwarteschlange {queue} ist angehalten ({message}): {waiting} "
    "Druck(e) warten",
    "queue_stopped_fix": "die Fotobox setzt sie fort, sobald der Drucker bereit ist; oder "
    "Drucken fortsetzen drücken",
    "queue_rejecting": "Die Druckwarteschlange {queue} nimmt keine Drucke an",
    "queue_rejecting_fix": "Drucken fortsetzen drücken (oder cupsaccept {queue})",
    "cups_down": "CUPS antwortet nicht unter {server}: Drucke warten",
    "cups_down_fix": "sudo systemctl start cups (deploy/install.sh --printer installiert es)",
    "queue_missing": "CUPS hat keine Druckwarteschlange {queue}: Drucke warten",
    "queue_missing_fix": "den Drucker einrichten (docs/printing.md) oder print.queue auf eine "
    "Warteschlange setzen, die lpstat -p zeigt",
    "not_allowed": "Die Fotobox darf die Druckwarteschlange {queue} nicht fortsetzen",
    "not_allowed_fix": "sudo usermod -aG lpadmin booth, dann booth-printer neu starten",
    "budget_used": "Das Papier der Feier ist aufgebraucht ({used} von {total} Drucken)",
    "budget_used_fix": "Papier einlegen, dann Papier hinzufügen drücken",
    "budget_low": "Noch {left} Druck(e) vom Papier der Feier",
    "budget_low_fix": "eine neue Rolle oder Packung bereitlegen, dann Papier hinzufügen drücken",
    "failed": "{n} Druck(e) fehlgeschlagen: {error}",
    "failed_fix": "Nochmal drucken am Foto drücken, sobald der Drucker geht",
    "printer": "Drucker",
    "prints_left": "Drucke übrig",
    "no_budget": "kein Papierlimit",
    "printed": "gedruckt",
    "waiting": "warten",
    "resume": "Drucken fortsetzen",
    "cancel_waiting": "Wartende Drucke abbrechen",
    "reprint": "Nochmal drucken",
    "add_paper": "Papier hinzufügen",
    "sheets": "Blatt",
}
OPERATOR_PRINT_FR: dict[str, str] = {
    "paper_out": f"L'imprimante n'a plus de papier{NBSP}: {{waiting}} impression(s) en attente",
    "paper_out_fix": f"mettez du papier (un nouveau rouleau ou paquet){NBSP}; les impressions "
    "en attente sortent alors d'elles-mêmes",
    "paper_low": "Le papier de l'imprimante s'épuise",
    "paper_low_fix": "préparez un nouveau rouleau ou paquet",
    "ribbon_out": f"Le ruban ou l'encre de l'imprimante est épuisé{NBSP}: {{waiting}} "
    "impression(s) en attente",
    "ribbon_out_fix": f"mettez un nouveau ruban (sublimation thermique{NBSP}: celui du paquet "
    "de papier)",
    "ribbon_low": f"{{marker}} de l'imprimante est presque vide ({{level}}{NBSP}%)",
    "ribbon_low_fix": "préparez-en un nouveau",
    "jam": "Du papier est coincé dans l'imprimante",
    "jam_fix": "ouvrez l'imprimante, retirez le papier coincé et refermez-la",
    "door_open": "Le capot ou la trappe de l'imprimante est ouvert",
    "door_open_fix": "refermez-le",
    "offline": f"L'imprimante ne répond pas (éteinte ou débranchée{NBSP}?)",
    "offline_fix": "vérifiez l'alimentation et le câble USB ou réseau de l'imprimante",
    "queue_stopped": f"La file d'impression {{queue}} est arrêtée ({{message}}){NBSP}: "
    "{waiting} impression(s) en attente",
    "queue_stopped_fix": "le photobooth la relance dès que l'imprimante est prête, ou appuyez "
    "sur Reprendre l'impression",
    "queue_rejecting": "La file d'impression {queue} n'accepte pas d'impressions",
    "queue_rejecting_fix": "appuyez sur Reprendre l'impression (ou cupsaccept {queue})",
    "cups_down": f"CUPS ne répond pas à {{server}}{NBSP}: les impressions attendent",
    "cups_down_fix": "sudo systemctl start cups (deploy/install.sh --printer l'installe)",
    "queue_missing": f"CUPS n'a pas de file d'impression {{queue}}{NBSP}: les impressions "
    "attendent",
    "queue_missing_fix": "ajoutez l'imprimante (docs/printing.md) ou mettez dans print.queue "
    "une file que lpstat -p affiche",
    "not_allowed": "Le photobooth n'a pas le droit de relancer la file d'impression {queue}",
    "not_allowed_fix": "sudo usermod -aG lpadmin booth, puis redémarrez booth-printer",
    "budget_used": "Le papier de l'événement est épuisé ({used} sur {total} impressions)",
    "budget_used_fix": "mettez du papier, puis appuyez sur Ajouter du papier",
    "budget_low": "Il reste {left} impression(s) du papier de l'événement",
    "budget_low_fix": "préparez un nouveau rouleau ou paquet, puis appuyez sur Ajouter du papier",
    "failed": f"{{n}} impression(s) échouée(s){NBSP}: {{error}}",
    "failed_fix": "appuyez sur Réimprimer sur la photo quand l'imprimante fonctionne",
    "printer": "Imprimante",
    "prints_left": "impressions restantes",
    "no_budget": "pas de limite de papier",
    "printed": "imprimées",
    "waiting": "en attente",
    "resume": "Reprendre l'impression",
    "cancel_waiting": "Annuler les impressions en attente",
    "reprint": "Réimprimer",
    "add_paper": "Ajouter du papier",
    "sheets": "feuilles",
}
OPERATOR_PRINT_ES: dict[str, str] = {
    "paper_out": "La impresora no tiene papel: {waiting} impresión(es) esperan",
    "paper_out_fix": "pon papel (un rollo o paquete nuevo); las impresiones en espera salen solas",
    "paper_low": "Se acaba el papel de la impresora",
    "paper_low_fix": "ten listo un rollo o paquete nuevo",
    "ribbon_out": "La cinta o la tinta de la impresora se ha acabado: {waiting} impresión(es) "
    "esperan",
    "ribbon_out_fix": "pon una cinta nueva (sublimación: la del paquete de papel)",
    "ribbon_low": "Queda poco {marker} en la impresora ({level}%)",
    "ribbon_low_fix": "ten uno nuevo listo",
    "jam": "Hay papel atascado en la impresora",
    "jam_fix": "abre la impresora, saca el papel atascado y ciérrala",
    "door_open": "La tapa o la puerta de la impresora está abierta",
    "door_open_fix": "ciérrala",
    "offline": "La impresora no responde (¿apagada o desconectada?)",
    "offline_fix": "revisa la corriente y el cable USB o de red de la impresora",
    "queue_stopped": "La cola de impresión {queue} está detenida ({message}): {waiting} "
    "impresión(es) esperan",
    "queue_stopped_fix": "el fotomatón la reanuda en cuanto la impresora esté lista; o pulsa "
    "Reanudar impresión",
    "queue_rejecting": "La cola de impresión {queue} no acepta impresiones",
    "queue_rejecting_fix": "pulsa Reanudar impresión (o cupsaccept {queue})",
    "cups_down": "CUPS no responde en {server}: las impresiones esperan",
    "cups_down_fix": "sudo systemctl start cups (deploy/install.sh --printer lo instala)",
    "queue_missing": "CUPS no tiene la cola de impresión {queue}: las impresiones esperan",
    "queue_missing_fix": "añade la impresora (docs/printing.md) o pon en print.queue una cola "
    "que muestre lpstat -p",
    "not_allowed": "El fotomatón no puede reanudar la cola de impresión {queue}",
    "not_allowed_fix": "sudo usermod -aG lpadmin booth y reinicia booth-printer",
    "budget_used": "Se acabó el papel del evento ({used} de {total} impresiones)",
    "budget_used_fix": "pon papel y pulsa Añadir papel",
    "budget_low": "Quedan {left} impresión(es) del papel del evento",
    "budget_low_fix": "ten listo un rollo o paquete nuevo y pulsa Añadir papel",
    "failed": "{n} impresión(es) fallaron: {error}",
    "failed_fix": "pulsa Reimprimir en la foto cuando la impresora funcione",
    "printer": "Impresora",
    "prints_left": "impresiones restantes",
    "no_budget": "sin límite de papel",
    "printed": "impresas",
    "waiting": "en espera",
    "resume": "Reanudar impresión",
    "cancel_waiting": "Cancelar impresiones en espera",
    "reprint": "Reimprimir",
    "add_paper": "Añadir papel",
    "sheets": "hojas",
}
OPERATOR_PRINT: dict[str, dict[str, str]] = {
    "en": OPERATOR_PRINT_EN,
    "de": OPERATOR_PRINT_DE,
    "fr": OPERATOR_PRINT_FR,
    "es": OPERATOR_PRINT_ES,
}


def operator_print(language: str, key: str, **values: object) -> str:
    """One of the printer's operator texts in `language` (English when unknown); a missing
    placeholder value leaves the text as written."""
    text = OPERATOR_PRINT.get(language, OPERATOR_PRINT_EN).get(key) or OPERATOR_PRINT_EN[key]
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text


def placeholders(text: str) -> set[str]:
    """The `{names}` a text uses."""
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def check_override(key: str, text: str) -> str | None:
    """Why an override for `key` cannot be used, or None when it can."""
    if key not in KEYS:
        return f"unknown text {key!r}"
    try:
        used = placeholders(text)
    except ValueError as exc:
        return f"texts.{key}: {exc} (write {{{{ and }}}} for literal braces)"
    extra = used - placeholders(EN[key])
    if extra:
        allowed = ", ".join("{" + p + "}" for p in sorted(placeholders(EN[key]))) or "none"
        return f"texts.{key} uses {{{sorted(extra)[0]}}}; allowed placeholders: {allowed}"
    if key == "months" and len(text.split("|")) != 12:
        return "texts.months must be 12 month names separated by |"
    return None


class Texts:
    """The guest texts of one language with the config's overrides on top.

    `texts("back_in", seconds=5)` formats one; a missing placeholder value is left as written,
    so a bad override can never take a screen down.
    """

    def __init__(self, language: str = "en", overrides: Mapping[str, str] | None = None) -> None:
        if language not in CATALOG:
            raise ValueError(f"unknown language {language!r}; known: {', '.join(LANGUAGES)}")
        self.language = language
        self._texts = {**EN, **CATALOG[language], **(overrides or {})}

    def __call__(self, key: str, **values: object) -> str:
        text = self._texts[key]
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text

    def days(self, n: float) -> str:
        """'1 day' / '7 days' in this language (whole days, at least one)."""
        n = max(1, round(n))
        return self("days_one") if n == 1 else self("days_many", n=n)

    def date(self, ts: float) -> str:
        """A local date written out the way this language does (no locale needed)."""
        t = time.localtime(ts)
        months = self("months").split("|")
        return self("date", day=t.tm_mday, month=months[t.tm_mon - 1], year=t.tm_year)
